"""The real scraper in real headless Chromium, on a fake photos page, against the real API
(uvicorn on loopback): end to end to duplicate groups, and each way a scrape can go wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.runtime import Runtime, build_runtime
from backend_scraper.browser import BrowserConfig
from backend_scraper.errors import LayoutChanged, SignInRequired
from backend_scraper.run import ScrapeConfig, scrape
from tests.backend.backend_scraper.conftest import LiveServer
from tests.helpers import images as img
from tests.helpers import photos
from tests.helpers.app import Person, make_settings, together
from tests.helpers.fake_photos import FakePhoto, FakePhotos, fake_photos

ASTRONAUT = photos.jpeg(photos.skimage_photo("astronaut.png"))
CAT = photos.jpeg(photos.skimage_photo("chelsea.png"))


def _library() -> list[FakePhoto]:
    small = photos.skimage_photo("astronaut.png").resize((256, 256))
    return [
        FakePhoto("AF1QipAstro0001", ASTRONAUT, "IMG_0001.jpg"),
        FakePhoto("AF1QipCoffee001", photos.jpeg(photos.skimage_photo("coffee.png")), "c.jpg"),
        FakePhoto("AF1QipAstro0002", ASTRONAUT, "IMG_0001 (1).jpg"),  # a duplicate
        FakePhoto("AF1QipCat000001", CAT, "cat.jpg", taken="Jul 4, 2019, 3:25:41 PM"),
        FakePhoto("AF1QipRocket001", photos.jpeg(photos.skimage_photo("rocket.jpg")), "r.jpg"),
        FakePhoto("AF1QipAstro0003", photos.jpeg(small, quality=70), "IMG_0001-small.jpg"),
        FakePhoto("AF1QipCat000002", img.flipped(img.reencoded(CAT)), "c2.jpg"),
        FakePhoto("AF1QipHubble001", photos.jpeg(photos.skimage_photo("hubble_deep_field.jpg")),
                  "h.jpg"),  # fmt: skip
    ]


@dataclass
class Responses:
    """The API's answers to the scraper, per token: what was sent, and how often."""

    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def accepted(self, token: str) -> list[tuple[str, bool]]:
        return [
            (a["source_id"], a["new"])
            for t, body in self.bodies
            if t == token
            for a in body["accepted"]
        ]


class Recording:
    """ASGI middleware keeping the answers of POST /images/scraped."""

    def __init__(self, app: Any, responses: Responses) -> None:
        self.app, self.responses = app, responses

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/images/scraped"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        chunks: list[bytes] = []

        async def keep(message: Any) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        body = json.loads(b"".join(chunks) or b"{}")
        if "accepted" in body:
            self.responses.bodies.append((token, body))


@dataclass
class Api:
    url: str
    client: TestClient
    runtime: Runtime
    responses: Responses

    def person(self, email: str) -> tuple[Person, str]:
        person = Person.sign_up(self.client, self.runtime, email)
        return person, person.headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
def site() -> Iterator[FakePhotos]:
    with fake_photos(FakePhotos(_library(), page_size=3)) as s:
        yield s


@pytest.fixture(scope="module")
def api(site: FakePhotos, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("api")
    # The fake's images are on loopback: a test origin, which only a test setting allows.
    settings = make_settings(data, DUPFINDER_FETCH_TEST_ORIGINS=[site.origin])
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    responses = Responses()
    try:
        with LiveServer(Recording(app, responses)) as server:
            yield Api(server.url, TestClient(app), runtime, responses)
    finally:
        runtime.close()


def config(site: FakePhotos, api_url: str, tmp: Path, chromium: str, **extra: Any) -> ScrapeConfig:
    state = extra.pop("storage_state", None) or site.storage_state(tmp / "signed-in.json")
    values: dict[str, Any] = {
        "page_url": site.origin + "/",
        "api_url": api_url,
        "state_file": tmp / "scrape-state.json",
        "browser": BrowserConfig(chromium=chromium, storage_state=state, timeout=15, grace=1),
        "batch_size": 3,
        "min_interval": 0.05,
        "download_interval": 0.0,
        "scroll_pause": 0.25,
        "idle_rounds": 2,
        "progress": False,
        "retries": 2,
        "backoff": 0.2,
        **extra,
    }
    return ScrapeConfig(**values)


def by_source(person: Person) -> dict[str, dict[str, Any]]:
    items = person.get("/images", params={"size": 500}).json()["items"]
    return {i["source_id"]: i for i in items}


def test_end_to_end_to_duplicate_groups(
    site: FakePhotos, api: Api, tmp_path: Path, chromium: str
) -> None:
    alice, token = api.person("alice@example.com")
    report = scrape(config(site, api.url, tmp_path, chromium), token)
    assert (report.found, report.sent, report.new, report.mode) == (8, 8, 8, "url")
    assert report.rejected == {}
    # The API fetched the full-size originals (=d), each once (plus the scraper's probe of
    # whether the addresses answer without the session).
    full = sorted(f"/lh3/{p.source_id.lower()}=d" for p in site.photos)
    assert set(site.image_requests) == set(full) and len(site.image_requests) == len(full) + 1
    alice.settle()

    images = by_source(alice)
    assert set(images) == {p.source_id for p in site.photos}
    assert {i["status"] for i in images.values()} == {"ready"}
    astro = images["AF1QipAstro0001"]
    assert astro["source"] == "SCRAPE" and astro["filename"] == "IMG_0001.jpg"
    assert astro["source_url"] == f"{site.origin}/photo/AF1QipAstro0001"
    assert (astro["width"], astro["height"]) == (512, 512)  # the original, not the thumbnail
    assert images["AF1QipCat000001"]["taken_at"].startswith("2019-07-04T15:25:41")
    ids = {sid: i["id"] for sid, i in images.items()}
    groups = alice.groups()
    assert together(alice.groups("exact"), ids["AF1QipAstro0001"], ids["AF1QipAstro0002"])
    assert together(groups, ids["AF1QipAstro0001"], ids["AF1QipAstro0003"])
    assert together(groups, ids["AF1QipCat000001"], ids["AF1QipCat000002"])
    for other in ("AF1QipCoffee001", "AF1QipRocket001", "AF1QipHubble001"):
        assert not any(ids[other] in {m["id"] for m in g["images"]} for g in groups)


def test_sign_in_redirect(site: FakePhotos, api: Api, tmp_path: Path, chromium: str) -> None:
    signed_out = tmp_path / "signed-out.json"
    signed_out.write_text(json.dumps({"cookies": [], "origins": []}))
    with pytest.raises(SignInRequired, match="Sign in again with `dupfinder scrape login"):
        scrape(config(site, api.url, tmp_path, chromium, storage_state=signed_out), "token")


def test_changed_layout(api: Api, tmp_path: Path, chromium: str) -> None:
    with fake_photos(FakePhotos(_library()[:2], layout="changed")) as changed:
        with pytest.raises(
            LayoutChanged, match=r"photo links \(selector 'a\[href\*=\"/photo/\"\]'\)"
        ):
            scrape(config(changed, api.url, tmp_path, chromium), "token")


def test_killed_half_way_and_resumed(
    site: FakePhotos, api: Api, tmp_path: Path, chromium: str
) -> None:
    carol, token = api.person("carol@example.com")
    state = tmp_path / "scrape-state.json"
    cookies = site.storage_state(tmp_path / "signed-in.json")
    command = [
        sys.executable, "-m", "backend_scraper", "--storage-state", str(cookies),
        "--url", site.origin + "/", "--api", api.url, "--state", str(state), "--batch", "2",
        "--interval", "3", "--scroll-pause", "0.3", "-q",
    ]  # fmt: skip
    env = dict(os.environ, DUPFINDER_TOKEN=token, DUPFINDER_DATA_DIR=str(tmp_path / "data"))
    env["DUPFINDER_CHROMIUM"] = chromium
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 40
        while not (state.exists() and '"sent": ["' in state.read_text()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the first batch was never acknowledged"
            time.sleep(0.05)
    finally:
        # The scraper and its Chromium, mid-run: the first batch acknowledged, the next one
        # held back by the 3 s between requests.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = api.responses.accepted(token)
    assert 2 <= len(first) < 8

    report = scrape(config(site, api.url, tmp_path, chromium), token)
    assert report.skipped == len(first) and report.sent == 8 - len(first)
    sent = api.responses.accepted(token)
    assert sorted(s for s, _ in sent) == sorted(p.source_id for p in site.photos)  # once each
    assert all(new for _, new in sent)
    carol.settle()
    assert len(by_source(carol)) == 8


def test_a_second_person_sees_none_of_it(api: Api, tmp_path: Path, chromium: str) -> None:
    alice, _ = api.person("ann@example.com")
    bob, token = api.person("bob@example.com")
    # Bob's library: its image addresses answer only inside his session, so the scraper
    # downloads them in the browser and sends the bytes.
    library = [
        FakePhoto("AF1QipAstro0001", ASTRONAUT, "mine.jpg"),  # the same Google id as Alice's
        FakePhoto("AF1QipBobCat001", CAT, "cat.jpg"),
        FakePhoto("AF1QipBobCat002", CAT, "cat copy.jpg"),
    ]
    with fake_photos(FakePhotos(library, images_need_session=True)) as bobs:
        report = scrape(config(bobs, api.url, tmp_path, chromium), token)
    assert (report.found, report.new, report.mode) == (3, 3, "bytes")
    bob.settle()
    images = by_source(bob)
    assert set(images) == {"AF1QipAstro0001", "AF1QipBobCat001", "AF1QipBobCat002"}
    assert images["AF1QipAstro0001"]["filename"] == "mine.jpg"
    (group,) = bob.groups()
    assert {m["id"] for m in group["images"]} == {
        images["AF1QipBobCat001"]["id"],
        images["AF1QipBobCat002"]["id"],
    }
    # Another person's view holds none of it.
    assert by_source(alice) == {} and alice.groups() == []
    for image in images.values():
        assert alice.get(f"/images/{image['id']}").status_code == 404
