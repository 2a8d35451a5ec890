"""A batch full of bad files: each gets a reason, the good ones go through, nothing else moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service

LIMIT = 300_000  # bytes; every good test file is well under it


@pytest.fixture
def person(tmp_path: Path) -> Iterator[Person]:
    settings = make_settings(tmp_path, DUPFINDER_MAX_UPLOAD_BYTES=LIMIT)
    with service(settings) as (client, runtime):
        yield Person.sign_up(client, runtime, "dora@example.com")


def snapshot(person: Person, image_ids: list[int]) -> dict[str, Any]:
    return {
        "groups": person.groups(),
        "images": [person.get(f"/images/{i}").json() for i in image_ids],
        "files": [person.get(f"/images/{i}/file").content for i in image_ids],
    }


# filename -> (bytes, words the rejection reason must contain)
BAD: dict[str, tuple[bytes, str]] = {
    "empty.jpg": (b"", "empty (0 bytes)"),
    "notes.jpg": (b"shopping list: milk, eggs, more film", "not an image"),
    "renamed.png": (img.jpeg(30), "is a JPEG image but its name ends in .png"),
    "bomb.png": (img.png_claiming(100_000, 100_000), "decompression bomb"),
    "panorama.png": (img.png_claiming(45_000, 100), "no side may exceed 40000"),
    "huge.png": (img.noise_png(400), "over the limit"),
    "../../etc/passwd": (img.jpeg(31), "contains a path"),
    "a/b.jpg": (img.jpeg(32), "contains a path"),
    "..\\x.jpg": (img.jpeg(33), "contains a path"),
}


def test_bad_files_are_refused_one_by_one(person: Person) -> None:
    first = person.upload(img.camera_batch())
    old_ids = [i["id"] for i in first["images"]]
    before = snapshot(person, old_ids)
    assert len(before["groups"]) == 2

    beach = img.jpeg(40, (480, 360))
    good = [
        ("beach.jpg", beach),
        ("beach-small.jpg", img.resized(beach)),
        ("anim.gif", img.animated_gif(seeds=(50, 51, 52))),
        ("print.jpg", img.cmyk_jpeg(41)),
        ("scan16.png", img.png16(42)),
    ]
    cut = ("cut.jpg", img.truncated(img.jpeg(43)))
    sent = [(name, data) for name, (data, _) in BAD.items()]
    files = sent[:4] + good[:2] + [cut] + sent[4:] + good[2:]
    response = person.send(files)
    assert response.status_code == 202, response.text
    body = response.json()

    rejected = {r["filename"]: r["reason"] for r in body["rejected"]}
    assert set(rejected) == set(BAD)
    for name, (_, words) in BAD.items():
        assert words in rejected[name], (name, rejected[name])
    assert "MiB" in rejected["huge.png"]  # the limit, in units a person reads

    accepted = {i["filename"]: i["id"] for i in body["images"]}
    assert set(accepted) == {name for name, _ in good} | {"cut.jpg"}

    person.settle()
    job = person.job(body["job_id"])
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 6, 5, 1)
    (failure,) = job["failures"]
    assert failure["image_id"] == accepted["cut.jpg"] and failure["filename"] == "cut.jpg"
    assert "truncated or damaged" in failure["reason"]

    cut_image = person.get(f"/images/{accepted['cut.jpg']}").json()
    assert cut_image["status"] == "failed" and "truncated" in cut_image["error"]
    assert person.get(f"/images/{accepted['cut.jpg']}/thumbnail").status_code == 404
    for name, _ in good:
        assert person.get(f"/images/{accepted[name]}").json()["status"] == "ready", name

    after = snapshot(person, old_ids)
    assert after["images"] == before["images"] and after["files"] == before["files"]
    new_groups = [g for g in after["groups"] if g not in before["groups"]]
    assert [g for g in after["groups"] if g in before["groups"]] == before["groups"]
    assert [names(g) for g in new_groups] == [{"beach.jpg", "beach-small.jpg"}]


def test_a_batch_of_only_bad_files_is_a_finished_empty_job(person: Person) -> None:
    body = person.upload([("empty.jpg", b""), ("x.png", img.jpeg(1))])
    assert body["images"] == [] and len(body["rejected"]) == 2
    job = person.job(body["job_id"])
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 0, 0, 0)
