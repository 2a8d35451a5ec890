"""Decisions act only on what a person saw, and never on ids that were reused."""

from __future__ import annotations

from typing import Any

from tests.helpers import images as img
from tests.helpers.app import Person, names, settle


def test_ids_of_deleted_images_and_groups_are_never_reused(alice: Person) -> None:
    a = img.jpeg(41)
    ids = alice.ids(alice.upload([("a.jpg", a), ("a-copy.jpg", a)]))
    (old_group,) = alice.groups()
    assert alice.delete(f"/images/{ids['a-copy.jpg']}").status_code == 204
    settle(alice.runtime)
    b = img.jpeg(42)
    new = alice.ids(alice.upload([("b.jpg", b), ("b-copy.jpg", b)]))
    assert min(new.values()) > max(ids.values())
    (group,) = alice.groups()
    assert group["id"] != old_group["id"]
    stale = alice.post(f"/duplicates/groups/{old_group['id']}/dismiss")
    assert stale.status_code in (404, 409)  # never the new group
    assert [names(g) for g in alice.groups()] == [{"b.jpg", "b-copy.jpg"}]


def test_a_group_that_changed_since_it_was_shown_is_not_decided(alice: Person) -> None:
    x = img.jpeg(43, (400, 300))
    ids = alice.ids(alice.upload([("x1.jpg", x), ("x2.jpg", img.resized(x))]))
    (shown,) = alice.groups()
    seen = [i["id"] for i in shown["images"]]
    ids |= alice.ids(alice.upload([("x3.jpg", img.reencoded(x, 40))]))  # joins the same group
    (now,) = alice.groups()
    assert now["id"] == shown["id"] and len(now["images"]) == 3
    body: dict[str, Any] = {"keep": [ids["x1.jpg"]], "trash": [ids["x2.jpg"]], "seen": seen}
    refused = alice.post(f"/duplicates/groups/{shown['id']}/resolve", json=body)
    assert refused.status_code == 409 and "changed" in refused.json()["detail"]
    assert (
        alice.post(f"/duplicates/groups/{shown['id']}/dismiss", json={"seen": seen}).status_code
        == 409
    )
    assert alice.get(f"/images/{ids['x2.jpg']}").json()["trashed"] is False
    body["seen"] = [i["id"] for i in now["images"]]
    assert alice.post(f"/duplicates/groups/{shown['id']}/resolve", json=body).status_code == 200


def test_resolving_a_near_group_leaves_its_identical_copies_grouped(alice: Person) -> None:
    batch = alice.upload(img.camera_batch())
    ids = alice.ids(batch)
    (near,) = alice.groups("near")
    body = {"keep": [ids["original.jpg"]], "trash": [ids["small.jpg"], ids["q30.jpg"]]}
    assert alice.post(f"/duplicates/groups/{near['id']}/resolve", json=body).status_code == 200
    settle(alice.runtime)
    assert [names(g) for g in alice.groups("exact")] == [img.EXACT_NAMES]


def test_a_decided_group_whose_images_are_all_gone_still_reads(alice: Person) -> None:
    a = img.jpeg(44)
    ids = alice.ids(alice.upload([("a.jpg", a), ("b.jpg", img.resized(a))]))
    (group,) = alice.groups()
    assert alice.post(f"/duplicates/groups/{group['id']}/dismiss").status_code == 200
    for image_id in ids.values():
        assert alice.delete(f"/images/{image_id}").status_code == 204
    settle(alice.runtime)
    shown = alice.group(group["id"])
    assert shown["status"] == "dismissed" and shown["images"] == []
    assert shown["suggested_keep"] is None
