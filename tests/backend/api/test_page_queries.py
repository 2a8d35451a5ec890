"""A page of groups or images costs the same number of SQL statements whatever its size."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from backend.models import ImageObject
from backend.runtime import Runtime
from tests.helpers import images as img
from tests.helpers.app import Person


class Statements:
    """The SQL the request handlers send to the app's engine (the background worker's threads,
    all named ``dupfinder-*``, are left out: they are idle once a test has settled anyway)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def record(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not threading.current_thread().name.startswith("dupfinder-"):
            self.seen.append(statement)

    def cost(self, person: Person, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """How many statements ``GET path`` costs, and its body."""
        self.seen.clear()
        response = person.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return len(self.seen), body


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[Statements]:
    counter = Statements()
    sa.event.listen(runtime.engine, "before_cursor_execute", counter.record)
    try:
        yield counter
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", counter.record)


def test_a_page_of_groups_costs_the_same_at_any_size(
    alice: Person, runtime: Runtime, statements: Statements
) -> None:
    # Ten photos, each with a byte copy and a resized copy: an exact group of two inside a near
    # group of three, so groups on one page share members and pairs.
    files: list[tuple[str, bytes]] = []
    for n in range(10):
        original = img.jpeg(700 + n, (240, 180))
        files += [
            (f"p{n}.jpg", original),
            (f"p{n}-copy.jpg", original),
            (f"p{n}-small.jpg", img.resized(original)),
        ]
    ids = alice.ids(alice.upload(files))
    # Objects as a detector would have stored them (the tests run without the models).
    owner = alice.get("/users/me").json()["id"]
    with Session(runtime.engine) as session:
        for name, label, confidence in [
            ("p0.jpg", "dog", 0.9),
            ("p0-small.jpg", "cat", 0.6),
            ("p0-small.jpg", "person", 0.3),  # too weak to be a tag
            ("p0-small.jpg", "dog", 0.8),
        ]:
            box = {"x0": 0.1, "y0": 0.1, "x1": 0.5, "y1": 0.5}
            session.add(
                ImageObject(
                    image_id=ids[name],
                    owner_id=owner,
                    model_name="test",
                    label=label,
                    confidence=confidence,
                    **box,
                )
            )
        session.commit()

    one, small = statements.cost(alice, "/duplicates/groups", size=1)
    assert (len(small["items"]), small["total"]) == (1, 20)
    twenty, full = statements.cost(alice, "/duplicates/groups", size=20)
    assert (len(full["items"]), full["total"]) == (20, 20)
    assert one == twenty, statements.seen

    # Batched, each group still shows its own members and pairs: as the group alone shows it.
    assert full["items"][0] == small["items"][0]
    assert sorted(len(g["images"]) for g in full["items"]) == [2] * 10 + [3] * 10
    for group in full["items"]:
        assert group == alice.get(f"/duplicates/groups/{group['id']}").json()
        members = {i["id"] for i in group["images"]}
        assert {p["image_a"] for p in group["pairs"]} | {p["image_b"] for p in group["pairs"]} == (
            members
        )
        assert len(group["pairs"]) == len(members) * (len(members) - 1) // 2
    tagged = {frozenset(i["filename"] for i in g["images"]): g for g in full["items"]}
    near = tagged[frozenset({"p0.jpg", "p0-copy.jpg", "p0-small.jpg"})]
    exact = tagged[frozenset({"p0.jpg", "p0-copy.jpg"})]
    assert (near["tags"], exact["tags"]) == (["dog", "cat"], ["dog"])
    assert all(g["tags"] == [] for g in full["items"] if g not in (near, exact))
    objects = {i["filename"]: [o["label"] for o in i["objects"]] for i in near["images"]}
    assert objects == {
        "p0.jpg": ["dog"],
        "p0-copy.jpg": [],
        "p0-small.jpg": ["dog", "cat", "person"],
    }
    shared = {(p["image_a"], p["image_b"]): p["shared_objects"] for p in near["pairs"]}
    assert shared[tuple(sorted((ids["p0.jpg"], ids["p0-small.jpg"])))] == ["dog"]


def test_a_page_of_images_costs_the_same_at_any_size(alice: Person, statements: Statements) -> None:
    alice.upload([(f"i{n}.jpg", img.jpeg(900 + n, (64, 48))) for n in range(100)])

    one, small = statements.cost(alice, "/images", size=1)
    assert (len(small["items"]), small["total"]) == (1, 100)
    hundred, full = statements.cost(alice, "/images", size=100)
    assert (len(full["items"]), full["total"]) == (100, 100)
    assert one == hundred, statements.seen
    assert full["items"][0] == small["items"][0]
