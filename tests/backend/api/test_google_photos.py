"""API mode end to end: people connect Google Photos (OAuth with PKCE against a fake Google on
loopback), pick photos in the Picker and get them imported, analysed and grouped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.app import Person, make_settings, names, service
from tests.helpers.fake_google import (
    FakeGoogle,
    GoogleEnv,
    Item,
    browse,
    connect,
    google_env,
    jpeg_of,
    wait_pick,
)
from tests.helpers.images import reencoded

G = "/integrations/google"


Env = GoogleEnv


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One service and one fake Google for the module (each test has its own people)."""
    with google_env(tmp_path_factory.mktemp("google") / "data") as e:
        yield e


@pytest.fixture
def fake(env: Env) -> Iterator[FakeGoogle]:
    yield env.fake
    env.fake.reset()


def test_off_without_a_client_id(tmp_path: Path) -> None:
    with service(make_settings(tmp_path / "d")) as (client, runtime):
        person = Person.sign_up(client, runtime, "carol@example.com")
        for response in (
            person.get(G),
            person.post(f"{G}/connect"),
            person.post(f"{G}/picks"),
            person.get(f"{G}/picks/1"),
            client.get(f"/api/v1{G}/callback?state=x&code=y"),
        ):
            assert response.status_code == 503
            assert "DUPFINDER_GOOGLE_CLIENT_ID" in response.json()["detail"]
        health = client.get("/health").json()
        assert health["google_photos"].startswith("off")
        assert health["database"] == "ok"  # the existing fields stay


def test_two_people_connect_pick_and_import(env: Env, fake: FakeGoogle) -> None:
    client, alice, bob = env.client, env.person("alice"), env.person("bob")
    assert client.get("/health").json()["google_photos"] == "on"
    astronaut = jpeg_of("astronaut.png")
    fake.add_photos(
        "alice@gmail.com",
        [
            Item("a-1", "astronaut.jpg", astronaut, camera_make="Hasselblad", camera_model="500C"),
            Item("a-2", "astronaut copy.jpg", reencoded(astronaut, 40)),
            Item("a-3", "coffee.jpg", jpeg_of("coffee.png")),
            Item("a-4", "clip.mp4", b"\x00\x00\x00\x18ftypmp42", type="VIDEO", mime="video/mp4"),
        ],
    )
    fake.add_photos("bob@gmail.com", [Item("b-1", "chelsea.jpg", jpeg_of("chelsea.png"))])
    assert alice.get(G).json() == {
        "connected": False,
        "email": None,
        "scopes": [],
        "needs_reconnect": False,
        "last_error": None,
    }
    connect(alice, fake, "alice@gmail.com")
    connect(bob, fake, "bob@gmail.com")
    status = alice.get(G).json()
    assert status["connected"] and status["email"] == "alice@gmail.com"
    assert "https://www.googleapis.com/auth/photospicker.mediaitems.readonly" in status["scopes"]
    assert {"openid", "email"} <= set(status["scopes"])
    assert bob.get(G).json()["email"] == "bob@gmail.com"

    picks = {}
    for person, account in ((alice, "alice@gmail.com"), (bob, "bob@gmail.com")):
        created = person.post(f"{G}/picks")
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["picker_uri"].startswith(fake.origin) and body["picker_uri"].endswith(
            "/autoclose"
        )
        assert body["state"] == "waiting" and body["job_id"]
        picks[account] = body
        session_id = body["picker_uri"].split("/")[-2]
        assert fake.sessions[session_id].email == account  # each with their own token
        fake.pick(session_id)

    done = wait_pick(alice, picks["alice@gmail.com"]["id"])
    assert done["state"] == "done", done
    assert (done["picked"], done["imported"], done["skipped"], done["failed"]) == (4, 3, 1, 0)
    assert (
        done["problems"][0]["filename"] == "clip.mp4" and "video" in done["problems"][0]["reason"]
    )
    assert wait_pick(bob, picks["bob@gmail.com"]["id"])["imported"] == 1
    job = alice.job(done["job_id"])
    assert job["state"] == "done" and job["done"] == job["total"]

    # The photo and its copy are one group; Bob has no groups and none of Alice's photos.
    groups = alice.groups()
    assert [names(g) for g in groups] == [{"astronaut.jpg", "astronaut copy.jpg"}]
    images = alice.get("/images", params={"size": 50}).json()["items"]
    assert {i["source"] for i in images} == {"API"}
    first = next(i for i in images if i["source_id"] == "a-1")
    assert first["camera_make"] == "Hasselblad" and first["taken_at"].startswith("2021-06-05")
    bob_images = bob.get("/images", params={"size": 50}).json()["items"]
    assert [i["filename"] for i in bob_images] == ["chelsea.jpg"] and bob.groups() == []

    # Neither reaches the other's pick or job; another's id is the same as a missing one.
    assert bob.get(f"{G}/picks/{done['id']}").status_code == 404
    assert bob.get(f"/jobs/{done['job_id']}").status_code == 404
    assert [p["id"] for p in bob.get(f"{G}/picks").json()] == [picks["bob@gmail.com"]["id"]]
    # Done with: the sessions are deleted at Google.
    assert all(s.deleted for s in fake.sessions.values() if s.email.endswith("@gmail.com"))

    # No token in any answer.
    tokens = list(fake.refresh_tokens) + list(fake.access_tokens)
    for text in (
        alice.get(G).text,
        alice.get(f"{G}/picks").text,
        client.get("/health").text,
        alice.job(done["job_id"]).__repr__(),
    ):
        assert not any(t in text for t in tokens)

    # Picking the same photos again adds nothing.
    again = alice.post(f"{G}/picks").json()
    fake.pick(again["picker_uri"].split("/")[-2])
    second = wait_pick(alice, again["id"])
    assert (second["state"], second["imported"], second["already_present"]) == ("done", 0, 3)
    assert len(alice.get("/images", params={"size": 50}).json()["items"]) == 3
    assert alice.job(second["job_id"])["state"] == "done"


def test_the_state_is_single_use_bound_and_checked_with_pkce(env: Env, fake: FakeGoogle) -> None:
    client, alice = env.client, env.person("alice")
    fake.account = "alice@gmail.com"
    url = alice.post(f"{G}/connect").json()["authorization_url"]
    assert "code_challenge_method=S256" in url and "access_type=offline" in url
    assert "prompt=consent" in url
    import httpx

    back = httpx.get(url, follow_redirects=False).headers["location"]
    first = client.get(back, follow_redirects=False)
    assert first.headers["location"] == "/?google=connected"
    replay = client.get(back, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/?google=error")
    assert "used or expired" in replay.headers["location"].replace("+", " ")

    # A forged verifier (someone else's callback): Google refuses the code.
    url = alice.post(f"{G}/connect").json()["authorization_url"]
    env.raw("UPDATE google_oauth_state SET code_verifier = ?", "x" * 64)
    back = httpx.get(url, follow_redirects=False).headers["location"]
    refused = client.get(back, follow_redirects=False).headers["location"]
    assert refused.startswith("/?google=error")

    # The person says no at Google.
    fake.deny = True
    denied = browse(alice, fake, "alice@gmail.com")
    assert "did+not+allow" in denied.headers["location"]


def test_disconnect_revokes_at_google_and_forgets(env: Env, fake: FakeGoogle) -> None:
    alice = env.person("alice")
    connect(alice, fake, "alice-d@gmail.com")
    refresh = next(t for t, i in fake.refresh_tokens.items() if i["email"] == "alice-d@gmail.com")
    assert alice.delete(G).status_code == 204
    assert refresh in fake.revoked and fake.refresh_tokens[refresh]["revoked"]
    assert alice.get(G).json()["connected"] is False
    assert env.raw("SELECT count(*) FROM google_connection WHERE email = 'alice-d@gmail.com'") == [
        (0,)
    ]
    assert alice.post(f"{G}/picks").status_code == 409


def test_tokens_are_encrypted_at_rest(env: Env, fake: FakeGoogle) -> None:
    connect(env.person("alice"), fake, "alice-e@gmail.com")
    rows = env.raw("SELECT * FROM google_connection")
    assert rows
    raw = " ".join(str(v) for row in rows for v in row)
    for token in list(fake.refresh_tokens) + list(fake.access_tokens):
        assert token not in raw
    assert "gAAAAA" in raw  # Fernet ciphertexts
