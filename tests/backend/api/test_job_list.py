"""GET /jobs: a person's uploads, imports and scraper batches, newest first, with progress."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import images as img
from tests.helpers.app import Person

PHOTO = img.jpeg(41, (320, 240))


def jobs(person: Person, **params: Any) -> dict[str, Any]:
    response = person.get("/jobs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def scraped_batch(person: Person) -> int:
    """What the scraper sends as bytes: two photos and a file that is not one."""
    items = [{"source_id": s, "page_url": f"https://photos.google.com/photo/{s}"} for s in "ABC"]
    files = [
        ("files", ("A", PHOTO, "image/jpeg")),
        ("files", ("B", img.jpeg(42, (320, 240)), "image/jpeg")),
        ("files", ("C", b"not an image", "image/jpeg")),
    ]
    response = person.post(
        "/images/scraped", data={"items": json.dumps({"items": items})}, files=files
    )
    assert response.status_code == 202, response.text
    job_id: int = response.json()["job_id"]
    return job_id


def test_each_person_sees_their_own_jobs_newest_first(alice: Person, bob: Person) -> None:
    upload = alice.upload([("a.jpg", PHOTO), ("cut.jpg", img.truncated(img.jpeg(43)))])["job_id"]
    scrape = scraped_batch(alice)
    bobs = bob.upload([("b.jpg", PHOTO)])["job_id"]
    alice.settle()

    listed = jobs(alice)
    assert (listed["total"], listed["page"], listed["size"]) == (2, 1, 20)
    assert [j["id"] for j in listed["items"]] == [scrape, upload]
    fields = ("kind", "state", "total", "done", "failed")
    newest, oldest = listed["items"]
    assert tuple(newest[f] for f in fields) == ("scrape", "done", 2, 2, 0)
    assert tuple(oldest[f] for f in fields) == ("upload", "done", 2, 1, 1)
    assert oldest["created_at"] <= newest["created_at"] and newest["finished_at"] is not None
    assert "message" in newest and "failures" not in newest  # the details stay on /jobs/{id}

    theirs = jobs(bob)
    assert theirs["total"] == 1 and [j["id"] for j in theirs["items"]] == [bobs]


def test_pages(alice: Person, client: Any) -> None:
    ids = [alice.upload([(f"{n}.jpg", img.jpeg(50 + n))])["job_id"] for n in range(3)]
    first, second = jobs(alice, page=1, size=2), jobs(alice, page=2, size=2)
    assert [j["id"] for j in first["items"] + second["items"]] == ids[::-1]
    assert first["total"] == second["total"] == 3
    assert jobs(alice, page=3, size=2) == {"items": [], "total": 3, "page": 3, "size": 2}
    for bad in ({"page": 0}, {"size": 0}, {"size": 101}, {"page": 2**31}):
        assert alice.get("/jobs", params=bad).status_code == 422, bad
    assert client.get("/api/v1/jobs").status_code == 401
