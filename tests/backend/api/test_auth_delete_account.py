"""DELETE /users/me: the person's photos, stored files, groups, jobs and sessions go; another
person's copy of the same photo keeps its file; their tokens stop working at once."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backend.models import AuthSession, Image, Job, User
from backend.runtime import Runtime
from tests.helpers.app import API, PASSWORD, Person, token
from tests.helpers.images import jpeg, resized

ME = f"{API}/users/me"


def delete_me(person: Person, password: str) -> int:
    response = person.client.request(
        "DELETE", ME, json={"password": password}, headers=person.headers
    )
    return response.status_code


def keys_of(runtime: Runtime, email: str) -> list[str]:
    with Session(runtime.engine) as session:
        rows = session.exec(
            select(Image.storage_key, Image.thumbnail_key)
            .join(User, col(User.id) == col(Image.owner_id))
            .where(User.email == email)
        ).all()
    return [key for row in rows for key in row if key]


def test_deleting_the_account_removes_everything_and_revokes_its_tokens(
    client: TestClient, runtime: Runtime, alice: Person, bob: Person
) -> None:
    shared = jpeg(7)
    alice.upload([("a.jpg", jpeg(5)), ("a-small.jpg", resized(jpeg(5))), ("same.jpg", shared)])
    bob.upload([("same.jpg", shared)])
    keys = keys_of(runtime, alice.email)
    assert len(keys) == 6 and all(runtime.ctx.store.exists(k) for k in keys)
    bobs = keys_of(runtime, bob.email)
    other_device = token(client, alice.email).json()

    assert delete_me(alice, "not the password") == 403  # nothing happens
    assert alice.get("/images").json()["total"] == 3

    assert delete_me(alice, PASSWORD) == 204
    alice.settle()  # the stored files go once the deletion has committed
    assert alice.get("/users/me").status_code == 401
    other = {"Authorization": f"Bearer {other_device['access_token']}"}
    assert client.get(ME, headers=other).status_code == 401
    refresh = {"refresh_token": other_device["refresh_token"]}
    assert client.post(f"{API}/auth/refresh", json=refresh).status_code == 401
    assert token(client, alice.email).status_code == 401
    with Session(runtime.engine) as session:
        assert session.exec(select(User).where(User.email == alice.email)).first() is None
        for table in (Image, Job, AuthSession):
            owner = col(table.user_id) if table is AuthSession else col(table.owner_id)
            left = session.execute(
                sa.select(sa.func.count()).select_from(table).where(owner != _id(runtime, bob))
            ).scalar_one()
            assert left == 0, table.__name__
    assert not any(runtime.ctx.store.exists(k) for k in keys)  # photos and thumbnails
    assert all(runtime.ctx.store.exists(k) for k in bobs)
    assert bob.get("/images").json()["total"] == 1
    assert bob.get(f"/images/{bob.get('/images').json()['items'][0]['id']}/file").status_code == 200


def test_deleting_with_the_cookie_needs_csrf_and_clears_the_cookies(client: TestClient) -> None:
    client.post(f"{API}/auth/register", json={"email": "del@example.com", "password": PASSWORD})
    csrf = client.post(
        f"{API}/auth/login", json={"email": "del@example.com", "password": PASSWORD}
    ).json()["csrf_token"]
    body = {"password": PASSWORD}
    assert client.request("DELETE", ME, json=body).status_code == 403
    assert client.get(ME).status_code == 200  # still there
    response = client.request("DELETE", ME, json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert "dupfinder_session" not in client.cookies
    assert token(client, "del@example.com").status_code == 401


def _id(runtime: Runtime, person: Person) -> int:
    with Session(runtime.engine) as session:
        user = session.exec(select(User).where(User.email == person.email)).one()
        assert user.id is not None
        return user.id
