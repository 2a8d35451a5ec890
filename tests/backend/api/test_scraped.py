"""POST /images/scraped: what the scraper sends, as URLs (fetched safely) or as bytes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.runtime import Runtime
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service
from tests.helpers.photo_host import PhotoHost, photo_host

ORIGINAL = img.jpeg(21, (480, 360))
SMALL = img.resized(ORIGINAL)
OTHER = img.jpeg(77, (480, 360))
PEOPLE = itertools.count()


# One service for the module (its start costs more than the tests); each test has its own
# people, so nothing one test does is seen by another.
@pytest.fixture(scope="module")
def host() -> Iterator[PhotoHost]:
    with photo_host() as h:
        yield h


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, host: PhotoHost
) -> Iterator[tuple[TestClient, Runtime]]:
    data = tmp_path_factory.mktemp("data")
    with service(make_settings(data, DUPFINDER_FETCH_TEST_ORIGINS=[host.origin])) as pair:
        yield pair


@pytest.fixture
def alice(client: TestClient, runtime: Runtime) -> Person:
    return Person.sign_up(client, runtime, f"alice-{next(PEOPLE)}@example.com")


@pytest.fixture
def bob(client: TestClient, runtime: Runtime) -> Person:
    return Person.sign_up(client, runtime, f"bob-{next(PEOPLE)}@example.com")


def item(source_id: str, url: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "url": url,
        "page_url": f"https://photos.google.com/photo/{source_id}",
        **extra,
    }


def send(person: Person, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = person.post("/images/scraped", json={"items": items})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def mine(person: Person) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = person.get("/images", params={"size": 500}).json()["items"]
    return items


def test_urls_are_fetched_analysed_and_grouped(alice: Person, host: PhotoHost) -> None:
    items = [
        item("AF1QipA", host.add("/a=d", ORIGINAL), filename="IMG_1.jpg", width=480, height=360),
        item("AF1QipB", host.add("/b=d", SMALL), filename="IMG_1-small.jpg"),
        item("AF1QipC", host.add("/c=d", OTHER), taken_at="2021-05-04T10:00:00Z"),
    ]
    body = send(alice, items)
    assert body["rejected"] == []
    assert [(a["source_id"], a["status"], a["new"]) for a in body["accepted"]] == [
        ("AF1QipA", "fetching", True),
        ("AF1QipB", "fetching", True),
        ("AF1QipC", "fetching", True),
    ]
    alice.settle()
    job = alice.job(body["job_id"])
    assert (job["kind"], job["state"], job["total"], job["done"], job["failed"]) == (
        "scrape",
        "done",
        3,
        3,
        0,
    )
    (group,) = alice.groups("near")
    assert names(group) == {"IMG_1.jpg", "IMG_1-small.jpg"}
    shown = {i["source_id"]: i for i in mine(alice)}
    assert {i["source"] for i in shown.values()} == {"SCRAPE"}
    assert shown["AF1QipA"]["source_url"] == "https://photos.google.com/photo/AF1QipA"
    assert shown["AF1QipC"]["filename"] == "AF1QipC.jpg"  # no name shown: the id
    assert shown["AF1QipC"]["taken_at"].startswith("2021-05-04T10:00:00")
    assert shown["AF1QipA"]["status"] == "ready" and shown["AF1QipA"]["sha256"]

    # The same items again create nothing and fetch nothing.
    fetched = len(host.requests)
    again = send(alice, items)
    assert [a["new"] for a in again["accepted"]] == [False, False, False]
    assert {a["image_id"] for a in again["accepted"]} == {i["id"] for i in shown.values()}
    assert alice.job(again["job_id"])["total"] == 0
    alice.settle()
    assert len(mine(alice)) == 3 and len(host.requests) == fetched


def test_refusals_are_reasons_per_item(alice: Person, host: PhotoHost) -> None:
    host.add("/page", b"<html>sign in</html>", "text/html")
    items = [
        item("private", "https://10.0.0.1/photo=d"),
        item("metadata", "https://169.254.169.254/latest/meta-data/"),
        item("offlist", "https://evil.example.com/photo.jpg"),
        item("plainhttp", "http://lh3.googleusercontent.com/photo=d"),
        item("loopback", "https://[::1]/x"),
        item("nothing"),
        item("bad id!", host.origin + "/page"),
        item("notimage", host.origin + "/page"),
        item("gone", host.origin + "/missing=d"),
    ]
    body = send(alice, items)
    reasons = {r["source_id"]: r["reason"] for r in body["rejected"]}
    assert "private" in reasons["private"]
    assert "cloud metadata" in reasons["metadata"]
    assert "not one of the hosts" in reasons["offlist"]
    assert "only https" in reasons["plainhttp"]
    assert "loopback" in reasons["loopback"]
    assert "neither" in reasons["nothing"]
    assert "not a Google Photos id" in reasons["bad id!"]
    assert [a["source_id"] for a in body["accepted"]] == ["notimage", "gone"]
    alice.settle()
    job = alice.job(body["job_id"])
    assert (job["state"], job["done"], job["failed"]) == ("done", 0, 2)
    failures = {f["filename"]: f["reason"] for f in job["failures"]}
    assert "text/html, not an image" in failures["notimage.jpg"]
    assert "answered 404" in failures["gone.jpg"]


def test_a_failed_download_is_tried_again_on_the_same_image(alice: Person, host: PhotoHost) -> None:
    first = send(alice, [item("AF1QipR", host.origin + "/later=d")])
    alice.settle()
    image_id = first["accepted"][0]["image_id"]
    assert alice.get(f"/images/{image_id}").json()["status"] == "failed"
    second = send(alice, [item("AF1QipR", host.add("/later=d", ORIGINAL))])
    assert second["accepted"] == [
        {"source_id": "AF1QipR", "image_id": image_id, "status": "fetching", "new": True}
    ]
    alice.settle()
    assert alice.get(f"/images/{image_id}").json()["status"] == "ready"
    assert len(mine(alice)) == 1


def test_bytes_sent_as_multipart(alice: Person) -> None:
    items = [item("AF1QipM1", filename="one.jpg"), item("AF1QipM2"), item("AF1QipM3")]
    files = [
        ("files", ("AF1QipM1", ORIGINAL, "image/jpeg")),
        ("files", ("AF1QipM2", ORIGINAL, "image/jpeg")),
        ("files", ("AF1QipM3", b"not an image", "image/jpeg")),
    ]
    response = alice.post(
        "/images/scraped", data={"items": json.dumps({"items": items})}, files=files
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert [(a["source_id"], a["status"]) for a in body["accepted"]] == [
        ("AF1QipM1", "pending"),
        ("AF1QipM2", "pending"),
    ]
    assert body["rejected"] == [
        {"source_id": "AF1QipM3", "reason": "the file is not an image we can read"}
    ]
    alice.settle()
    (group,) = alice.groups("exact")
    assert names(group) == {"one.jpg", "AF1QipM2.jpg"}


def test_bad_requests(alice: Person, client: Any) -> None:
    url = "/api/v1/images/scraped"
    assert client.post(url, json={"items": []}).status_code == 401
    assert alice.post("/images/scraped", json={"items": [{"url": "x"}]}).status_code == 422
    text = {**alice.headers, "Content-Type": "text/plain"}
    assert client.post(url, content=b"x", headers=text).status_code == 415
    no_items = alice.post("/images/scraped", data={"other": "x"}, files=[("files", ("a", b"x"))])
    assert no_items.status_code == 422 and "items" in no_items.json()["detail"]
    many = {"items": [item(f"id{n}", "https://lh3.googleusercontent.com/x") for n in range(501)]}
    assert alice.post("/images/scraped", json=many).status_code == 422


def test_another_person_sees_none_of_it(alice: Person, bob: Person, host: PhotoHost) -> None:
    body = send(alice, [item("AF1QipS", host.add("/s=d", ORIGINAL))])
    alice.settle()
    image_id = body["accepted"][0]["image_id"]
    assert mine(bob) == [] and bob.get(f"/images/{image_id}").status_code == 404
    theirs = send(bob, [item("AF1QipS", host.origin + "/s=d")])  # the same id: Bob's own
    assert theirs["accepted"][0]["new"] is True
    assert theirs["accepted"][0]["image_id"] != image_id
    bob.settle()
    assert [i["source_id"] for i in mine(bob)] == ["AF1QipS"] and len(mine(alice)) == 1
