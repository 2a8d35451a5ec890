"""The review actions: counts and sorting, undo, the trash, bulk accept, export; owner-scoped."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backend.models import Image, IngestionMode, PairDecision
from backend.runtime import Runtime
from backend.services.storage.blobstore import BlobNotFound
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, member_ids, service

_people = itertools.count()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime]]:
    """One service for the module (each test signs up people of its own)."""
    with service(make_settings(tmp_path_factory.mktemp("data"))) as running:
        yield running


def someone(served: tuple[TestClient, Runtime]) -> Person:
    return Person.sign_up(*served, f"reviewer{next(_people)}@example.com")


@pytest.fixture
def alice(served: tuple[TestClient, Runtime]) -> Person:
    return someone(served)


@pytest.fixture
def bob(served: tuple[TestClient, Runtime]) -> Person:
    return someone(served)


def one_pair(person: Person, seed: int = 12) -> tuple[int, int, int]:
    """A photo and its resized copy (one near group) and an unrelated photo: group, a, b."""
    a = img.jpeg(seed, (400, 300))
    ids = person.ids(
        person.upload([("a.jpg", a), ("b.jpg", img.resized(a)), ("c.jpg", img.jpeg(seed + 1))])
    )
    (group,) = person.groups()
    return group["id"], ids["a.jpg"], ids["b.jpg"]


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def pair_answers(person: Person) -> int:
    owner = person.get("/users/me").json()["id"]
    with Session(person.runtime.ctx.engine) as session:
        return len(
            session.exec(select(PairDecision).where(col(PairDecision.owner_id) == owner)).all()
        )


def test_counts_sorting_and_space_freed(alice: Person) -> None:
    files, _ = img.families(2)
    alice.upload(files)
    alice.upload(img.camera_batch())  # uploaded last: its groups have the highest ids
    assert ok(alice.get("/duplicates/groups/counts")) == {"exact": 3, "near": 3, "similar": 0}
    near = [g["id"] for g in alice.groups("near")]
    camera = max(near)  # 6 photos, the only ones with a capture date
    assert near == sorted(near)  # the default order stays the id order

    for sort in ("size", "date"):
        shown = ok(alice.get("/duplicates/groups", params={"tier": "near", "sort": sort}))
        assert shown["items"][0]["id"] == camera and shown["total"] == 3, sort
    by_space = ok(alice.get("/duplicates/groups", params={"sort": "space", "size": 50}))["items"]
    spare = [
        sum(i["bytes"] for i in g["images"]) - max(i["bytes"] for i in g["images"])
        for g in by_space
    ]
    assert spare == sorted(spare, reverse=True) and len(by_space) == 6
    # Pages of a sorted list hold every group once.
    paged = [
        ok(alice.get("/duplicates/groups", params={"sort": "size", "size": 2, "page": p}))["items"]
        for p in (1, 2, 3)
    ]
    assert sorted(g["id"] for page in paged for g in page) == sorted(g["id"] for g in by_space)

    for group in by_space:
        keeper = group["suggested_keep"]["image_id"]
        others = sum(i["bytes"] for i in group["images"] if i["id"] != keeper)
        assert group["bytes_freed"] == others > 0
    refused = alice.get("/duplicates/groups", params={"sort": "bigger"})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("sort: ")


def test_undo_resolve_restores_the_photos_and_reopens_the_group(alice: Person) -> None:
    group, a, b = one_pair(alice)
    decision = ok(
        alice.post(f"/duplicates/groups/{group}/resolve", json={"keep": [a], "trash": [b]})
    )
    alice.settle()
    assert alice.groups() == [] and alice.get(f"/images/{b}").json()["trashed"] is True

    undone = ok(alice.post(f"/decisions/{decision['id']}/undo"))
    assert undone["status"] == "open" and undone["undoes"] == decision["id"]
    assert undone["group_id"] == group and undone["trash"] == [b]
    assert alice.get(f"/images/{b}").json()["trashed"] is False
    alice.settle()
    (back,) = alice.groups()
    assert back["id"] == group and member_ids(back) == {a, b}
    assert pair_answers(alice) == 0

    again = alice.post(f"/decisions/{decision['id']}/undo")
    assert again.status_code == 409
    assert again.json() == {"detail": f"decision {decision['id']} was already undone"}
    undo_of_undo = alice.post(f"/decisions/{undone['id']}/undo")
    assert undo_of_undo.status_code == 409
    # The reopened group can be decided again, and that decision undone.
    second = ok(alice.post(f"/duplicates/groups/{group}/resolve", json={"keep": [b], "trash": [a]}))
    assert ok(alice.post(f"/decisions/{second['id']}/undo"))["undoes"] == second["id"]


def test_undo_dismiss_forgets_its_pair_answers(alice: Person) -> None:
    group, a, b = one_pair(alice, seed=40)
    decision = ok(alice.post(f"/duplicates/groups/{group}/dismiss"))
    alice.settle()
    assert alice.groups() == [] and pair_answers(alice) == 1
    ok(alice.post(f"/decisions/{decision['id']}/undo"))
    assert pair_answers(alice) == 0
    alice.settle()
    assert [member_ids(g) for g in alice.groups()] == [{a, b}]


def test_undo_keeps_pair_answers_another_decision_gave(alice: Person) -> None:
    """A near group kept whole, then its identical copies (their exact group) kept too:
    undoing the first leaves the second's answers, so no exact copy is offered again."""
    alice.upload(img.camera_batch())
    (near,) = alice.groups("near")
    keep_all = sorted(member_ids(near))
    first = ok(alice.post(f"/duplicates/groups/{near['id']}/resolve", json={"keep": keep_all}))
    alice.settle()
    (exact,) = alice.groups("exact")
    copies = sorted(member_ids(exact))
    ok(alice.post(f"/duplicates/groups/{exact['id']}/resolve", json={"keep": copies}))
    alice.settle()
    assert alice.groups() == [] and pair_answers(alice) == 15  # 6 photos: every pair
    ok(alice.post(f"/decisions/{first['id']}/undo"))
    assert pair_answers(alice) == 3  # the three identical copies stay answered
    alice.settle()
    # Open again; the exact copies, answered, are no longer grouped with one another.
    back = alice.groups("near")
    assert near["id"] in {g["id"] for g in back}
    assert set().union(*(member_ids(g) for g in back)) <= set(keep_all)


def test_someone_else_cannot_undo(alice: Person, bob: Person) -> None:
    group, a, b = one_pair(alice, seed=80)
    decision = ok(
        alice.post(f"/duplicates/groups/{group}/resolve", json={"keep": [a], "trash": [b]})
    )
    theirs = bob.post(f"/decisions/{decision['id']}/undo")
    missing = bob.post("/decisions/987654/undo")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == f"decision {decision['id']} was not found"
    assert ok(bob.get("/duplicates/groups/counts")) == {"exact": 0, "near": 0, "similar": 0}
    assert alice.get(f"/images/{b}").json()["trashed"] is True


def storage_key(person: Person, image_id: int) -> str:
    with Session(person.runtime.ctx.engine) as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image.storage_key


def test_trash_list_restore_and_empty(alice: Person, bob: Person) -> None:
    trashed = []
    decided = []
    for seed in (100, 110):
        group, a, b = one_pair(alice, seed)
        body = {"keep": [a], "trash": [b]}
        decided.append(ok(alice.post(f"/duplicates/groups/{group}/resolve", json=body))["id"])
        alice.settle()
        trashed.append((a, b))
    (a1, b1), (a2, b2) = trashed
    shown = ok(alice.get("/trash"))
    assert [i["id"] for i in shown["items"]] == [b2, b1] and shown["total"] == 2  # newest first
    assert ok(bob.get("/trash"))["total"] == 0

    # Someone else's id, like an unknown one: 404, and nothing restored.
    refused = bob.post("/trash/restore", json={"image_ids": [b1]})
    assert refused.status_code == 404 and refused.json() == {
        "detail": f"image(s) [{b1}] were not found"
    }
    assert alice.post("/trash/restore", json={"image_ids": []}).status_code == 422
    assert ok(alice.get("/trash"))["total"] == 2
    assert ok(alice.post("/trash/restore", json={"image_ids": [b1, a1]})) == {"restored": 1}
    alice.settle()
    assert [member_ids(g) for g in alice.groups()] == [{a1, b1}]

    key, size = storage_key(alice, b2), alice.get(f"/images/{b2}").json()["bytes"]
    assert alice.runtime.ctx.store.get(key)
    assert ok(bob.client.delete("/api/v1/trash", headers=bob.headers)) == {
        "deleted": 0,
        "bytes_freed": 0,
    }
    emptied = ok(alice.client.delete("/api/v1/trash", headers=alice.headers))
    assert emptied == {"deleted": 1, "bytes_freed": size}
    alice.settle()
    assert alice.get(f"/images/{b2}").status_code == 404
    with pytest.raises(BlobNotFound):
        alice.runtime.ctx.store.get(key)
    assert ok(alice.get("/trash"))["total"] == 0
    assert alice.get(f"/images/{a2}").status_code == 200  # the kept copy stays
    # What was deleted for good cannot come back: its decision is no longer undone.
    purged = alice.post(f"/decisions/{decided[1]}/undo")
    assert purged.status_code == 409
    assert purged.json()["detail"] == (
        f"decision {decided[1]} cannot be undone: 1 of the photos it trashed were deleted "
        "from the trash for good"
    )
    assert alice.get(f"/images/{a2}").json()["trashed"] is False


def test_bulk_accept_does_what_its_dry_run_said(alice: Person, bob: Person) -> None:
    files, _ = img.families(2, seed=700)
    alice.upload([*files, *img.camera_batch(seed=7)])
    exact = alice.groups("exact")
    refused = alice.post("/duplicates/groups/accept", json={"tier": "similar"})
    assert refused.status_code == 422 and "pick the best shot" in refused.json()["detail"]
    theirs = bob.post(
        "/duplicates/groups/accept", json={"tier": "exact", "group_ids": [exact[0]["id"]]}
    )
    assert theirs.status_code == 404
    near_id = alice.groups("near")[0]["id"]
    wrong = alice.post("/duplicates/groups/accept", json={"tier": "exact", "group_ids": [near_id]})
    assert (
        wrong.status_code == 422
        and wrong.json()["detail"] == f"group(s) [{near_id}] are not exact groups"
    )

    plan = ok(alice.post("/duplicates/groups/accept", json={"tier": "exact", "dry_run": True}))
    assert plan == {
        "groups": 3,
        "images_trashed": sum(len(g["images"]) - 1 for g in exact),
        "bytes_freed": sum(g["bytes_freed"] for g in exact),
        "decision_ids": [],
    }
    assert ok(alice.get("/duplicates/groups/counts"))["exact"] == 3  # the dry run decided nothing
    done = ok(alice.post("/duplicates/groups/accept", json={"tier": "exact"}))
    assert {k: v for k, v in done.items() if k != "decision_ids"} == {
        k: v for k, v in plan.items() if k != "decision_ids"
    }
    assert len(done["decision_ids"]) == 3
    alice.settle()
    assert ok(alice.get("/duplicates/groups/counts"))["exact"] == 0
    assert ok(alice.get("/trash"))["total"] == plan["images_trashed"]
    kept = {g["suggested_keep"]["image_id"] for g in exact}
    assert not any(alice.get(f"/images/{i}").json()["trashed"] for i in kept)

    # A page of the near tier: its groups only, counted alike.
    page = [g["id"] for g in alice.groups("near")[:2]]
    body = {"tier": "near", "group_ids": page}
    plan = ok(alice.post("/duplicates/groups/accept", json={**body, "dry_run": True}))
    done = ok(alice.post("/duplicates/groups/accept", json=body))
    assert plan["groups"] == done["groups"] == 2 and len(done["decision_ids"]) == 2
    assert plan["images_trashed"] == done["images_trashed"] > 0
    assert plan["bytes_freed"] == done["bytes_freed"] > 0
    alice.settle()
    assert ok(alice.get("/duplicates/groups/counts"))["near"] == 1
    again = alice.post("/duplicates/groups/accept", json=body)
    assert again.status_code == 409
    assert ok(alice.post(f"/decisions/{done['decision_ids'][0]}/undo"))["status"] == "open"


GOOGLE_LINK = "https://photos.google.com/photo/AF1QipExampleCopy"


def came_from_google(person: Person, image_id: int) -> None:
    """As a scraped Google Photos item is stored: its id there and the link back to it."""
    with person.runtime.ctx.session(write=True) as session:
        image = session.get(Image, image_id)
        assert image is not None
        image.source, image.source_id, image.source_url = (
            IngestionMode.SCRAPE,
            "AF1QipExampleCopy",
            GOOGLE_LINK,
        )
        session.add(image)


def test_export_json_and_csv_with_the_google_link(alice: Person, bob: Person) -> None:
    group, a, b = one_pair(alice, seed=200)
    came_from_google(alice, b)
    resolved = ok(
        alice.post(f"/duplicates/groups/{group}/resolve", json={"keep": [a], "trash": [b]})
    )
    alice.settle()
    group2, a2, b2 = one_pair(alice, seed=210)
    dismissed = ok(alice.post(f"/duplicates/groups/{group2}/dismiss"))
    ok(alice.post(f"/decisions/{dismissed['id']}/undo"))
    alice.settle()

    response = alice.get("/export", params={"format": "json"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="dupfinder-export.json"'
    body = response.json()
    (open_group,) = body["groups"]
    assert open_group["id"] == group2 and open_group["status"] == "open"
    assert sorted(i["action"] for i in open_group["images"]) == ["keep", "trash"]
    assert {i["image_id"] for i in open_group["images"]} == {a2, b2}
    by_id = {d["id"]: d for d in body["decisions"]}
    assert set(by_id) == {resolved["id"], dismissed["id"]}  # not the undo's own record
    assert by_id[dismissed["id"]]["status"] == "undone"
    first = by_id[resolved["id"]]
    assert first["status"] == "resolved" and first["tier"] == "near"
    trashed = {i["image_id"]: i for i in first["images"] if i["action"] == "trash"}
    assert trashed[b]["source_url"] == GOOGLE_LINK and trashed[b]["source"] == "SCRAPE"
    assert first["bytes_freed"] == trashed[b]["bytes"] > 0

    response = alice.get("/export", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="dupfinder-export.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 + 2 + 2  # the open group's photos, then each decision's
    # (Resolving gave the kept copy the link too: what one copy knew, all know.)
    (google,) = [r for r in rows if r["source_url"] and r["action"] == "trash"]
    assert google["image_id"] == str(b) and google["action"] == "trash"
    assert google["kind"] == "decision" and google["status"] == "resolved"
    assert google["source_url"] == GOOGLE_LINK and google["filename"] == "b.jpg"

    assert bob.get("/export").json()["groups"] == bob.get("/export").json()["decisions"] == []
    assert bob.get("/export", params={"format": "csv"}).text.count("\n") == 1  # the header
    assert alice.get("/export", params={"format": "xml"}).status_code == 422
