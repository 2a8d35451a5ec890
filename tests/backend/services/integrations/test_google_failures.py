"""Every failure Google documents, against the fake Google: 401, invalid_grant, 429 and 5xx,
RESOURCE_EXHAUSTED, an expired baseUrl, a person who never finishes picking, a killed worker."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from backend.services.ingestion.google_picks import IMPORT_PICK, import_pick, start_pick
from backend.services.integrations.google import Credentials
from backend.services.integrations.google_picker import PickerClient
from backend.services.storage.blobstore import BlobStore
from backend.services.worker.recovery import resume_unfinished
from tests.helpers.app import Person
from tests.helpers.fake_google import (
    FakeGoogle,
    GoogleEnv,
    Item,
    connect,
    google_env,
    jpeg_of,
    session_of,
    wait_pick,
)
from tests.helpers.jobs import Recorder

G = "/integrations/google"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleEnv]:
    with google_env(tmp_path_factory.mktemp("google-failures") / "data") as e:
        yield e


@pytest.fixture
def fake(env: GoogleEnv) -> Iterator[FakeGoogle]:
    yield env.fake
    env.fake.reset()


_accounts = iter(range(1, 10_000))


def connected(env: GoogleEnv, photos: int = 2) -> tuple[Person, str]:
    """A person connected as a fresh Google account holding ``photos`` real photos."""
    person = env.person("p")
    account = f"g{next(_accounts)}@gmail.com"
    env.fake.add_photos(
        account,
        [Item(f"{account}-{i}", f"photo{i}.jpg", jpeg_of(PHOTOS[i])) for i in range(photos)],
    )
    connect(person, env.fake, account)
    return person, account


def pick(person: Person) -> dict[str, Any]:
    response = person.post(f"{G}/picks")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_401_refreshes_once_and_retries(
    env: GoogleEnv, fake: FakeGoogle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person, _ = connected(env)
    before = fake.refreshes
    fake.expire_access_tokens()
    started = pick(person)  # POST /v1/sessions: 401, refresh, retry
    assert fake.refreshes == before + 1
    fake.pick(session_of(started))
    done = wait_pick(person, started["id"])
    assert (done["state"], done["imported"]) == ("done", 2)
    assert fake.refreshes == before + 1  # the new token served the whole import
    tokens = list(fake.refresh_tokens) + list(fake.access_tokens)
    assert "Google" in caplog.text or caplog.records  # something was logged...
    assert not any(t in caplog.text for t in tokens)  # ...and never a token


def test_invalid_grant_asks_the_person_to_reconnect(env: GoogleEnv, fake: FakeGoogle) -> None:
    person, account = connected(env)
    started = pick(person)
    fake.expire_access_tokens()
    fake.invalid_grant = True  # the person revoked the app at Google
    fake.pick(session_of(started))
    ended = wait_pick(person, started["id"])
    assert ended["state"] == "failed" and "Connect Google Photos again" in ended["error"]
    status = person.get(G).json()
    assert status["connected"] and status["needs_reconnect"]
    assert "no longer accepts" in status["last_error"]
    refused = person.post(f"{G}/picks")
    assert refused.status_code == 409 and "Connect Google Photos again" in refused.json()["detail"]
    assert person.job(ended["job_id"])["state"] == "failed"

    fake.invalid_grant = False
    connect(person, fake, account)  # connecting again clears it
    assert person.get(G).json()["needs_reconnect"] is False


def test_429_and_5xx_back_off_honouring_retry_after(env: GoogleEnv, fake: FakeGoogle) -> None:
    person, _ = connected(env, photos=3)
    started = pick(person)
    fake.fail("/v1/mediaItems", 429, times=1, retry_after="1")
    fake.fail("/media/", 503, times=2)
    began = time.monotonic()
    fake.pick(session_of(started))
    done = wait_pick(person, started["id"])
    assert time.monotonic() - began >= 1.0  # waited as Google asked
    assert (done["state"], done["imported"], done["failed"]) == ("done", 3, 0)
    assert fake.status_of("GET", "/v1/mediaItems").count(429) == 1
    assert fake.status_of("GET", "/media/").count(503) == 2


def test_resource_exhausted_closes_the_stale_sessions(env: GoogleEnv, fake: FakeGoogle) -> None:
    person, account = connected(env)
    fake.max_open_sessions = 2
    first, second = pick(person), pick(person)
    third = pick(person)  # RESOURCE_EXHAUSTED: the two waiting ones are closed
    assert "2 older one(s)" in third["notice"]
    assert [s.id for s in fake.open_sessions(account)] == [session_of(third)]
    for old in (first, second):
        ended = person.get(f"{G}/picks/{old['id']}").json()
        assert ended["state"] == "failed" and "cancelled" in ended["error"]
        assert person.job(old["job_id"])["state"] == "failed"
    fake.pick(session_of(third))
    assert wait_pick(person, third["id"])["imported"] == 2


def test_an_expired_base_url_is_listed_again(env: GoogleEnv, fake: FakeGoogle) -> None:
    person, _ = connected(env)
    started = pick(person)
    fake.fail("/media/", 403, times=1)  # the first baseUrl has expired
    listings = fake.listings
    fake.pick(session_of(started))
    done = wait_pick(person, started["id"])
    assert (done["state"], done["imported"], done["failed"]) == ("done", 2, 0)
    assert fake.listings == listings + 2  # once, then again for fresh baseUrls


def test_a_person_who_never_finishes_picking(env: GoogleEnv, fake: FakeGoogle) -> None:
    person, account = connected(env)
    fake.timeout_in = 0.6
    started = pick(person)
    ended = wait_pick(person, started["id"])
    assert ended["state"] == "expired" and "ended before" in ended["error"]
    assert ended["imported"] == 0 and fake.open_sessions(account) == []
    assert person.job(ended["job_id"])["state"] == "failed"
    assert person.get("/images").json()["items"] == []


class Killed(BaseException):
    """The worker process dies (not an exception any code handles)."""


@dataclasses.dataclass
class DyingStore:
    store: BlobStore
    after: int

    def put(self, key: str, data: bytes) -> None:
        if self.after == 0:
            raise Killed()
        self.after -= 1
        self.store.put(key, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_worker_killed_mid_import_resumes_with_every_photo_once(
    env: GoogleEnv, fake: FakeGoogle
) -> None:
    person, account = connected(env, photos=4)
    ctx = env.runtime.ctx
    held = dataclasses.replace(ctx, jobs=Recorder())  # what it sends stays here
    [(owner,)] = env.raw("SELECT id FROM user WHERE email = ?", person.email)
    started = start_pick(held, owner).pick
    assert started.id is not None and held.jobs.sent == [(IMPORT_PICK, {"pick_id": started.id})]
    fake.pick(started.google_session_id)

    with pytest.raises(Killed):  # dies while storing the third photo
        import_pick(dataclasses.replace(held, store=DyingStore(ctx.store, after=2)), started.id)
    midway = person.get(f"{G}/picks/{started.id}").json()
    assert (midway["state"], midway["imported"]) == ("importing", 2)

    import_pick(held, started.id)  # the message delivered again
    import_pick(held, started.id)  # ...and once more: nothing changes
    done = person.get(f"{G}/picks/{started.id}").json()
    assert (done["state"], done["imported"], done["failed"]) == ("done", 4, 0)
    assert fake.open_sessions(account) == []

    resume_unfinished(ctx)  # the analysis it queued, held back above
    person.settle()
    images = person.get("/images", params={"size": 50}).json()["items"]
    assert sorted(i["source_id"] for i in images) == [f"{account}-{i}" for i in range(4)]
    job = person.job(done["job_id"])
    assert job["state"] == "done" and job["done"] == job["total"] == 5  # 4 photos + the pick


def test_a_photo_over_the_size_limit_is_not_read_beyond_it(
    env: GoogleEnv, fake: FakeGoogle
) -> None:
    person, account = connected(env, photos=1)
    [(owner,)] = env.raw("SELECT id FROM user WHERE email = ?", person.email)
    credentials = Credentials(env.runtime.ctx, owner)
    with PickerClient(fake.origin, credentials, max_download=1000) as small:
        session = small.create_session()
        fake.pick(session.id)
        [item] = list(small.media_items(session.id))
        assert small.download(item) is None
        with PickerClient(fake.origin, credentials) as normal:
            assert normal.download(item) == fake.library[account][0].data
        small.delete_session(session.id)
    assert fake.open_sessions(account) == []


def test_the_token_never_goes_to_an_address_outside_google(
    env: GoogleEnv, fake: FakeGoogle
) -> None:
    person, _ = connected(env, photos=1)
    started = pick(person)
    # Same server, another name: not the Picker API's origin, not a googleusercontent host.
    fake.base_url_origin = fake.origin.replace("127.0.0.1", "localhost")
    downloads = fake.downloads
    fake.pick(session_of(started))
    done = wait_pick(person, started["id"])
    assert (done["state"], done["imported"], done["failed"]) == ("done", 0, 1)
    assert "outside its own servers" in done["problems"][0]["reason"]
    assert fake.downloads == downloads  # no request carried the token there
    assert person.job(done["job_id"])["state"] == "done"
