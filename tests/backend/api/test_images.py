"""Uploading a batch: analysis, exact and near groups, keeper, thumbnails, files, deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.config import Settings
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service


@pytest.fixture
def batch(alice: Person) -> dict[str, Any]:
    return alice.upload(img.camera_batch())


def test_batch_is_analysed_and_grouped(alice: Person, batch: dict[str, Any]) -> None:
    assert batch["rejected"] == []
    assert [i["filename"] for i in batch["images"]] == [n for n, _ in img.camera_batch()]
    assert {i["status"] for i in batch["images"]} == {"pending"}

    job = alice.job(batch["job_id"])
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 7, 7, 0)
    assert job["failures"] == [] and job["finished_at"] is not None

    exact, near = alice.groups("exact"), alice.groups("near")
    assert [names(g) for g in exact] == [img.EXACT_NAMES]
    assert [names(g) for g in near] == [img.NEAR_NAMES]
    assert len(alice.groups()) == 2

    ids = alice.ids(batch)
    for group in exact + near:
        assert group["status"] == "open"
        assert group["suggested_keep"]["image_id"] == ids["original.jpg"]
        assert group["suggested_keep"]["reasons"]
        assert all(p["image_a"] < p["image_b"] for p in group["pairs"])
    exact_pairs = {(p["image_a"], p["image_b"]): p["tier"] for p in exact[0]["pairs"]}
    assert exact_pairs and set(exact_pairs.values()) == {"exact"}
    assert {p["tier"] for p in near[0]["pairs"]} == {"exact", "near"}


def test_image_details(alice: Person, batch: dict[str, Any]) -> None:
    ids = alice.ids(batch)
    original = alice.get(f"/images/{ids['original.jpg']}").json()
    assert original["status"] == "ready" and original["error"] is None
    assert (original["width"], original["height"], original["format"]) == (640, 480, "JPEG")
    assert (original["camera_make"], original["camera_model"]) == ("Canon", "EOS 5D")
    assert original["taken_at"].startswith("2021-06-01T12:34:56")
    assert original["source"] == "UPLOAD" and original["trashed"] is False
    assert original["job_id"] == batch["job_id"] and len(original["sha256"]) == 64
    small = alice.get(f"/images/{ids['small.jpg']}").json()
    assert (small["width"], small["height"]) == (320, 240)
    assert alice.get(f"/images/{ids['lossless.png']}").json()["format"] == "PNG"


def test_group_by_id(alice: Person, batch: dict[str, Any]) -> None:
    (group,) = alice.groups("exact")
    assert alice.group(group["id"]) == group
    assert alice.get("/duplicates/groups/999999").status_code == 404


def test_thumbnail_and_file(alice: Person, batch: dict[str, Any]) -> None:
    ids = alice.ids(batch)
    files = dict(img.camera_batch())
    thumb = alice.get(f"/images/{ids['original.jpg']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    picture = img.decoded(thumb.content)
    assert picture.format == "JPEG" and max(picture.size) == 256

    for name, media in (("original.jpg", "image/jpeg"), ("lossless.png", "image/png")):
        got = alice.get(f"/images/{ids[name]}/file")
        assert got.status_code == 200 and got.content == files[name]
        assert got.headers["content-type"] == media
        assert got.headers["x-content-type-options"] == "nosniff"
        assert f'filename="{name}"' in got.headers["content-disposition"]


def test_pages(alice: Person, batch: dict[str, Any]) -> None:
    first = alice.get("/duplicates/groups", params={"page": 1, "size": 1}).json()
    second = alice.get("/duplicates/groups", params={"page": 2, "size": 1}).json()
    third = alice.get("/duplicates/groups", params={"page": 3, "size": 1}).json()
    assert first["total"] == second["total"] == 2
    assert len(first["items"]) == len(second["items"]) == 1 and third["items"] == []
    assert first["items"][0]["id"] != second["items"][0]["id"]


@pytest.mark.parametrize(
    ("params", "where"),
    [({"tier": "blurry"}, "tier"), ({"page": 0}, "page"), ({"size": 1000}, "size")],
)
def test_bad_list_parameters(alice: Person, params: dict[str, Any], where: str) -> None:
    response = alice.get("/duplicates/groups", params=params)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{where}: ")


def test_delete_image(alice: Person, batch: dict[str, Any], settings: Settings) -> None:
    ids = alice.ids(batch)
    blobs = settings.blob_dir / "originals"
    stored = sorted(p for p in blobs.rglob("*") if p.is_file())
    assert len(stored) == 6  # original.jpg and copy.jpg share one blob

    assert alice.delete(f"/images/{ids['copy.jpg']}").status_code == 204
    alice.settle()
    assert alice.get(f"/images/{ids['copy.jpg']}").status_code == 404
    assert alice.delete(f"/images/{ids['copy.jpg']}").status_code == 404
    # The shared bytes are still there for the original.
    assert alice.get(f"/images/{ids['original.jpg']}/file").content == img.camera_batch()[0][1]
    assert [names(g) for g in alice.groups("exact")] == [{"original.jpg", "lossless.png"}]

    assert alice.delete(f"/images/{ids['lossless.png']}").status_code == 204
    alice.settle()
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 5
    assert not (settings.blob_dir / f"thumbnails/1/{ids['lossless.png']}.jpg").exists()
    assert alice.groups("exact") == []
    assert [names(g) for g in alice.groups("near")] == [
        {"original.jpg", "small.jpg", "q30.jpg", "mirror.jpg"}
    ]


def test_deleting_the_last_copy_empties_the_group(alice: Person) -> None:
    body = alice.upload([("a.jpg", img.jpeg(7)), ("b.jpg", img.resized(img.jpeg(7)))])
    assert len(alice.groups()) == 1
    alice.delete(f"/images/{alice.ids(body)['b.jpg']}")
    alice.settle()
    assert alice.groups() == []


def test_too_many_files_in_one_request(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_MAX_FILES_PER_UPLOAD=2)
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "carol@example.com")
        response = person.send([(f"{n}.jpg", img.jpeg(n, (64, 48))) for n in range(3)])
        assert response.status_code == 422
        assert response.json()["detail"] == "3 files sent; send at most 2 per request"


def test_upload_needs_files(alice: Person) -> None:
    response = alice.post("/images/upload")
    assert response.status_code == 422 and "files" in response.json()["detail"]


def test_gif_cmyk_and_16_bit_uploads_are_analysed(alice: Person) -> None:
    body = alice.upload(
        [
            ("anim.gif", img.animated_gif()),
            ("print.jpg", img.cmyk_jpeg(4)),
            ("scan.png", img.png16(5)),
        ]
    )
    for image in body["images"]:
        detail = alice.get(f"/images/{image['id']}").json()
        assert detail["status"] == "ready", detail
    assert alice.job(body["job_id"])["done"] == 3


def test_list_images(alice: Person, bob: Person) -> None:
    body = alice.upload(img.camera_batch() + [("cut.jpg", img.truncated(img.jpeg(8)))])
    ids = alice.ids(body)
    listed = alice.get("/images", params={"size": 500}).json()
    assert listed["total"] == 8 and [i["id"] for i in listed["items"]] == sorted(ids.values())
    failed = alice.get("/images", params={"state": "failed"}).json()
    assert [i["filename"] for i in failed["items"]] == ["cut.jpg"]
    page = alice.get("/images", params={"page": 2, "size": 3}).json()
    assert [i["id"] for i in page["items"]] == sorted(ids.values())[3:6]
    assert bob.get("/images").json() == {"items": [], "total": 0, "page": 1, "size": 100}

    (group,) = alice.groups("exact")
    alice.post(
        f"/duplicates/groups/{group['id']}/resolve",
        json={"keep": [ids["original.jpg"]], "trash": [ids["copy.jpg"]]},
    )
    trash = alice.get("/images", params={"trashed": True}).json()
    assert [i["id"] for i in trash["items"]] == [ids["copy.jpg"]]
    assert alice.get("/images").json()["total"] == 7
    assert alice.get("/images", params={"state": "lost"}).status_code == 422


def test_missing_bytes_are_a_404_with_a_reason(alice: Person, settings: Settings) -> None:
    body = alice.upload([("a.jpg", img.jpeg(9))])
    image_id = alice.ids(body)["a.jpg"]
    for blob in settings.blob_dir.rglob("*"):
        if blob.is_file():
            blob.unlink()
    original = alice.get(f"/images/{image_id}/file")
    assert original.status_code == 404 and "no longer stored" in original.json()["detail"]
    thumb = alice.get(f"/images/{image_id}/thumbnail")
    assert thumb.status_code == 404 and "missing" in thumb.json()["detail"]


def test_no_thumbnail_before_analysis(alice: Person) -> None:
    alice.runtime.worker.shutdown()
    body = alice.send([("a.jpg", img.jpeg(10))]).json()
    response = alice.get(f"/images/{body['images'][0]['id']}/thumbnail")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("has no thumbnail yet (state: pending)")


def test_large_gif_is_analysed(alice: Person) -> None:
    body = alice.upload([("big.gif", img.animated_gif(seeds=(1, 2), size=(800, 600)))])
    image = alice.get(f"/images/{body['images'][0]['id']}").json()
    assert image["status"] == "ready", image["error"]
