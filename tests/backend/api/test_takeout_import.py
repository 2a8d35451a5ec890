"""POST /imports/takeout: a multi-part export streamed in, imported in the background, its
photos grouped; hostile archives refused with a message and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service
from tests.helpers.takeout import album_metadata, make_tgz, make_zip, real_photo, sidecar

Y = "Takeout/Google Photos/Photos from 2021"
ALBUM = "Takeout/Google Photos/Holiday"
URL = "https://photos.google.com/photo/AF1Qip{}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Person, Person, Path]]:
    """One service and two people for the module (both take seconds to make): the export
    test imports as Tara; the others are refused before anything is stored, as Hana."""
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        DUPFINDER_MAX_REQUEST_BYTES=50_000,
        DUPFINDER_MAX_TAKEOUT_BYTES=600_000,
    )
    with service(settings) as (client, runtime):
        yield (
            Person.sign_up(client, runtime, "tara@example.com"),
            Person.sign_up(client, runtime, "hana@example.com"),
            settings.takeout_folder,
        )


def post(person: Person, *paths: Path, headers: bool = True) -> Any:
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return person.client.post(
        "/api/v1/imports/takeout", files=files, headers=person.headers if headers else {}
    )


def parts(tmp_path: Path) -> list[Path]:
    big = real_photo(2, side=480)
    return [
        make_zip(
            tmp_path / "takeout-001.zip",
            {
                f"{Y}/IMG_1.jpg": big,
                f"{Y}/IMG_1.jpg.supplemental-metadata.json": sidecar(
                    "IMG_1.jpg", 1_620_000_000, URL.format(1), 48.85, 2.35, "Paris"
                ),
                f"{Y}/IMG_1-edited.jpg": img.resized(img.brightened(big), 0.6),
                f"{Y}/IMG_2.jpg": real_photo(3, side=480),
                f"{Y}/IMG_2.MP4": b"\x00\x00\x00\x18ftypmp42 live photo video",
            },
        ),
        make_tgz(
            tmp_path / "takeout-002.tgz",
            {
                f"{Y}/IMG_2.jpg.json": sidecar("IMG_2.jpg", 1_620_000_500, URL.format(2)),
                f"{ALBUM}/metadata.json": album_metadata("Holiday in Paris"),
                f"{ALBUM}/IMG_1.jpg": big,
                f"{ALBUM}/IMG_1.jpg.supplemental-metadata.json": sidecar(
                    "IMG_1.jpg", 1_620_000_000, URL.format(1), 48.85, 2.35, "Paris"
                ),
            },
        ),
    ]


def test_an_export_in_two_parts_is_imported_once_and_grouped(
    served: tuple[Person, Person, Path], tmp_path: Path
) -> None:
    tara, hana, folder = served
    # Over the ordinary request limit (50 kB), under the Takeout one.
    archives = parts(tmp_path)
    assert sum(p.stat().st_size for p in archives) > 50_000
    response = post(tara, *archives)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["files"] == ["takeout-001.zip", "takeout-002.tgz"]
    tara.settle()
    job = tara.job(body["job_id"])
    assert job["state"] == "done", job
    assert job["message"] == "3 photo(s): 3 new, 0 imported before; 1 file(s) skipped"
    assert job["skipped"] == [{"name": f"{Y}/IMG_2.MP4", "reason": "videos are not analysed"}]
    assert (job["total"], job["done"], job["failed"]) == (4, 4, 0)
    listed = tara.get("/images").json()["items"]
    by_name = {i["filename"]: i for i in listed}
    assert sorted(by_name) == ["IMG_1-edited.jpg", "IMG_1.jpg", "IMG_2.jpg"]
    first = by_name["IMG_1.jpg"]
    assert first["source"] == "TAKEOUT" and first["albums"] == ["Holiday in Paris"]
    assert first["source_url"] == URL.format(1) and first["latitude"] == 48.85
    assert first["taken_at"].startswith("2021-05-03T00:00:00")
    groups = tara.groups()
    assert [names(g) for g in groups] == [{"IMG_1.jpg", "IMG_1-edited.jpg"}]
    assert not any(folder.iterdir())  # the uploaded archives are gone once read

    # The same export again: nothing new.
    again = post(tara, *archives)
    assert again.status_code == 202
    tara.settle()
    assert tara.job(again.json()["job_id"])["message"].startswith("3 photo(s): 0 new, 3 imported")
    assert tara.get("/images").json()["total"] == 3
    # Nobody else sees the job or the photos.
    assert hana.get(f"/jobs/{body['job_id']}").status_code == 404
    assert hana.get("/images").json()["total"] == 0


def test_hostile_archives_are_refused_and_nothing_is_kept(
    served: tuple[Person, Person, Path], tmp_path: Path
) -> None:
    _, tara, folder = served
    evil = make_zip(tmp_path / "evil.zip", {"../../outside.jpg": real_photo(0)})
    response = post(tara, evil)
    assert response.status_code == 422
    assert "path traversal" in response.json()["detail"] and "evil.zip" in response.json()["detail"]
    # A tar is checked as it is read: the job says why.
    bomb = make_tgz(tmp_path / "bomb.tgz", {f"{Y}/zeros.jpg": bytes(20 * 1024 * 1024)})
    response = post(tara, bomb)
    assert response.status_code == 202
    tara.settle()
    job = tara.job(response.json()["job_id"])
    assert (
        job["state"] == "failed" and "zip bomb" in job["message"] and "bomb.tgz" in job["message"]
    )
    assert tara.get("/images").json()["total"] == 0
    assert not any(folder.iterdir())
    not_archive = tmp_path / "notes.zip"
    not_archive.write_text("hello")
    response = post(tara, not_archive)
    assert response.status_code == 422 and "is not a .zip" in response.json()["detail"]


def test_limits_and_sign_in_come_before_the_body(
    served: tuple[Person, Person, Path], tmp_path: Path
) -> None:
    _, tara, folder = served
    archive = make_zip(tmp_path / "a.zip", {f"{Y}/x.jpg": img.jpeg(1)})
    assert post(tara, archive, headers=False).status_code == 401
    huge = make_zip(tmp_path / "huge.zip", {f"{Y}/n.png": img.noise_png(500)})
    assert huge.stat().st_size > 600_000
    response = post(tara, huge)
    assert response.status_code == 413
    assert tara.post("/imports/takeout", data={"x": "1"}).status_code == 422
    response = tara.client.post(
        "/api/v1/imports/takeout",
        files=[("other", ("x.txt", b"x", "text/plain"))],
        data={"a": "b"},
        headers=tara.headers,
    )
    assert response.status_code == 422 and "no archive" in response.json()["detail"]
    assert not folder.exists() or not any(folder.iterdir())
