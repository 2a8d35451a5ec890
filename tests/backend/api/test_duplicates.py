"""Resolve and dismiss: what the API refuses, and how it says so."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import images as img
from tests.helpers.app import Person


@pytest.fixture
def pair(alice: Person) -> dict[str, Any]:
    a = img.jpeg(12, (400, 300))
    ids = alice.ids(
        alice.upload([("a.jpg", a), ("b.jpg", img.resized(a)), ("c.jpg", img.jpeg(13))])
    )
    (group,) = alice.groups()
    return {"group": group["id"], **ids}


def resolve(person: Person, group_id: int, body: dict[str, Any]) -> tuple[int, str]:
    response = person.post(f"/duplicates/groups/{group_id}/resolve", json=body)
    return response.status_code, response.json()["detail"] if response.status_code != 200 else ""


def test_invalid_resolutions(alice: Person, pair: dict[str, Any]) -> None:
    g, a, b, c = pair["group"], pair["a.jpg"], pair["b.jpg"], pair["c.jpg"]
    assert resolve(alice, g, {"keep": [a], "trash": [999999]}) == (
        422,
        f"image(s) [999999] are not in group {g}",
    )
    assert resolve(alice, g, {"keep": [c]}) == (422, f"image(s) [{c}] are not in group {g}")
    status, detail = resolve(alice, g, {"keep": [], "trash": [a, b]})
    assert status == 422 and detail.startswith("keep: ") and "at least 1" in detail
    status, detail = resolve(alice, g, {"trash": [a]})
    assert status == 422 and detail.startswith("keep: ")
    assert resolve(alice, g, {"keep": [a], "trash": [a]}) == (
        422,
        "an image cannot be both kept and trashed",
    )
    status, detail = resolve(alice, g, {"keep": ["first"]})
    assert status == 422 and detail.startswith("keep.0: ")
    # Nothing was decided by the refusals.
    assert alice.group(g)["status"] == "open"
    assert alice.get(f"/images/{a}").json()["trashed"] is False


def test_resolving_twice_is_a_conflict(alice: Person, pair: dict[str, Any]) -> None:
    g, a, b = pair["group"], pair["a.jpg"], pair["b.jpg"]
    assert resolve(alice, g, {"keep": [a], "trash": [b]})[0] == 200
    assert resolve(alice, g, {"keep": [a], "trash": [b]}) == (
        409,
        f"group {g} was already resolved",
    )


def test_dismissing_twice_is_a_conflict(alice: Person, pair: dict[str, Any]) -> None:
    g = pair["group"]
    assert alice.post(f"/duplicates/groups/{g}/dismiss").status_code == 200
    second = alice.post(f"/duplicates/groups/{g}/dismiss")
    assert second.status_code == 409
    assert second.json()["detail"] == f"group {g} was already dismissed"
    assert resolve(alice, g, {"keep": [pair["a.jpg"]]})[0] == 409


def test_unknown_group(alice: Person) -> None:
    assert alice.post("/duplicates/groups/424242/dismiss").status_code == 404
    assert resolve(alice, 424242, {"keep": [1]}) == (404, "group 424242 was not found")


def test_group_ids_stay_put_as_copies_arrive_and_leave(alice: Person, pair: dict[str, Any]) -> None:
    a = img.jpeg(12, (400, 300))
    ids = alice.ids(alice.upload([("a-q40.jpg", img.reencoded(a, 40))]))
    (group,) = alice.groups()
    assert group["id"] == pair["group"] and len(group["images"]) == 3
    alice.delete(f"/images/{pair['b.jpg']}")
    alice.settle()
    (group,) = alice.groups()
    assert group["id"] == pair["group"]
    assert {i["id"] for i in group["images"]} == {pair["a.jpg"], ids["a-q40.jpg"]}
