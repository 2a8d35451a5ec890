"""Owner isolation: another person's ids behave exactly like ids that do not exist.

The sweep enumerates the app's routes, so an endpoint added later with an id in its path is
covered (or fails this test) without anyone remembering to list it here. FastAPI 0.165 keeps
included routers as opaque entries in ``app.routes``, so the routes are read from the app's
own OpenAPI description, which lists every operation the routers define.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.models import GooglePick, GroupDecision, GroupStatus, PickState, utcnow
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names

ID_PARAM = re.compile(r"{(\w+_id)}")
MISSING_ID = 987654


def id_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path template) of every route whose path takes an id."""
    app: FastAPI = client.app  # type: ignore[assignment]
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if ID_PARAM.search(path)
        for method in operations
    }
    # Routes registered directly on the app (older FastAPI flattens included routers too).
    found |= {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and ID_PARAM.search(route.path)
        for method in route.methods
    }
    return found


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Google Photos configured (never reached: Alice's pick below is written directly), so
    # that the pick route is swept too.
    return make_settings(data_dir, DUPFINDER_GOOGLE_CLIENT_ID="isolation.apps.example")


def google_pick(alice: Person) -> int:
    owner = alice.get("/users/me").json()["id"]
    with alice.runtime.ctx.session(write=True) as session:
        pick = GooglePick(
            owner_id=owner,
            google_session_id="s1",
            picker_uri="https://photos.google.com/picker/s1",
            state=PickState.DONE,
            expires_at=utcnow() + timedelta(minutes=30),
        )
        session.add(pick)
        session.flush()
        assert pick.id is not None
        return pick.id


def decision(alice: Person, group_id: int) -> int:
    """A decision of Alice's, written directly so that her groups stay open."""
    owner = alice.get("/users/me").json()["id"]
    with alice.runtime.ctx.session(write=True) as session:
        row = GroupDecision(owner_id=owner, group_id=group_id, action=GroupStatus.DISMISSED)
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


@pytest.fixture
def alices(alice: Person) -> dict[str, Any]:
    body = alice.upload(img.camera_batch())
    ids = alice.ids(body)
    exact = alice.groups("exact")[0]
    return {
        "image_id": ids["copy.jpg"],
        "group_id": exact["id"],
        "job_id": body["job_id"],
        "pick_id": google_pick(alice),
        "decision_id": decision(alice, exact["id"]),
        "keep": [ids["original.jpg"]],
        "trash": [ids["copy.jpg"]],
    }


def call(
    person: Person | None, client: TestClient, method: str, path: str, **ids: Any
) -> httpx.Response:
    url = path.format(**{k: v for k, v in ids.items() if k.endswith("_id")})
    kwargs: dict[str, Any] = {}
    if path.endswith("/resolve"):
        kwargs["json"] = {"keep": ids["keep"], "trash": ids["trash"]}
    headers = person.headers if person else {}
    return client.request(method, url, headers=headers, **kwargs)


def test_every_id_route_answers_404_for_someone_elses_id(
    client: TestClient, alice: Person, bob: Person, alices: dict[str, Any]
) -> None:
    routes = id_routes(client)
    expected = {
        ("GET", "/api/v1/images/{image_id}"),
        ("GET", "/api/v1/images/{image_id}/thumbnail"),
        ("GET", "/api/v1/images/{image_id}/file"),
        ("DELETE", "/api/v1/images/{image_id}"),
        ("GET", "/api/v1/jobs/{job_id}"),
        ("GET", "/api/v1/duplicates/groups/{group_id}"),
        ("POST", "/api/v1/duplicates/groups/{group_id}/resolve"),
        ("POST", "/api/v1/duplicates/groups/{group_id}/dismiss"),
        ("GET", "/api/v1/integrations/google/picks/{pick_id}"),
        ("POST", "/api/v1/decisions/{decision_id}/undo"),
    }
    assert expected <= routes, "an id route disappeared; update this test"
    before = alice.groups()
    exercised: set[tuple[str, str]] = set()
    for method, path in sorted(routes):
        theirs = call(bob, client, method, path, **alices)
        missing = {k: MISSING_ID if k.endswith("_id") else v for k, v in alices.items()}
        nothing = call(bob, client, method, path, **missing)
        assert theirs.status_code == 404, (method, path, theirs.status_code, theirs.text)
        assert nothing.status_code == 404, (method, path, nothing.text)
        # Indistinguishable from an id that does not exist: same words, no data.
        shown = theirs.json()["detail"].replace(str(alices[ID_PARAM.findall(path)[0]]), "N")
        assert shown == nothing.json()["detail"].replace(str(MISSING_ID), "N")
        assert set(theirs.json()) == {"detail"}
        exercised.add((method, path))
    assert exercised == routes

    # Nothing of Alice's moved.
    assert alice.groups() == before
    assert alice.get(f"/images/{alices['image_id']}").json()["trashed"] is False
    assert alice.get(f"/images/{alices['image_id']}/file").status_code == 200


def test_id_routes_need_a_sign_in(client: TestClient, alices: dict[str, Any]) -> None:
    for method, path in sorted(id_routes(client)):
        response = call(None, client, method, path, **alices)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


def test_lists_show_only_your_own(alice: Person, bob: Person, alices: dict[str, Any]) -> None:
    assert bob.groups() == []
    assert bob.get("/duplicates/groups").json()["total"] == 0
    # The very same files uploaded by Bob form Bob's own groups, apart from Alice's.
    body = bob.upload(img.camera_batch())
    bobs_ids = set(bob.ids(body).values())
    assert [names(g) for g in bob.groups("exact")] == [img.EXACT_NAMES]
    for group in bob.groups():
        assert {i["id"] for i in group["images"]} <= bobs_ids
    alice_group_ids = {g["id"] for g in alice.groups()}
    assert alice_group_ids.isdisjoint({g["id"] for g in bob.groups()})
    assert len(alice.groups()) == 2
    # Bob deleting his copy leaves Alice's (same bytes) untouched.
    assert bob.delete(f"/images/{bob.ids(body)['copy.jpg']}").status_code == 204
    bob.settle()
    assert alice.get(f"/images/{alices['image_id']}/file").content == img.camera_batch()[1][1]
