"""The scraper's API client: retries with backoff, clear errors, a rate limit; its CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.cli import main
from backend.config import Settings
from backend_scraper.__main__ import DEFAULTS
from backend_scraper.api import ApiClient, RateLimiter
from backend_scraper.errors import ApiError
from backend_scraper.state import ScrapeState


def client(answers: list[httpx.Response | Exception], seen: list[httpx.Request]) -> ApiClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return ApiClient(
        "http://api.test", "tok", min_interval=0, retries=3, backoff=0.01,
        transport=httpx.MockTransport(handle),
    )  # fmt: skip


ACCEPTED = {
    "job_id": 1,
    "accepted": [{"source_id": "a", "image_id": 1, "status": "fetching", "new": True}],
    "rejected": [{"source_id": "b", "reason": "no"}],
}


def test_retries_passing_faults_then_succeeds() -> None:
    seen: list[httpx.Request] = []
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("down"),
        httpx.Response(503, json={"detail": "the database is unavailable"}),
        httpx.Response(409, json={"detail": "retry"}),
        httpx.Response(202, json=ACCEPTED),
    ]
    answer = client(answers, seen).send([{"source_id": "a"}, {"source_id": "b"}], {})
    assert (answer.sent, answer.rejected, answer.new) == (["a"], {"b": "no"}, 1)
    assert len(seen) == 4 and seen[-1].headers["Authorization"] == "Bearer tok"
    assert json.loads(seen[-1].content) == {"items": [{"source_id": "a"}, {"source_id": "b"}]}


def test_bytes_go_as_multipart() -> None:
    seen: list[httpx.Request] = []
    client([httpx.Response(202, json=ACCEPTED)], seen).send([{"source_id": "a"}], {"a": b"JPEG"})
    body = seen[0].read()
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b'name="files"; filename="a"' in body and b"JPEG" in body and b'name="items"' in body


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ([httpx.Response(401, json={"detail": "expired"})], "refused the token"),
        ([httpx.Response(422, json={"detail": "bad items"})], "422 bad items"),
        ([httpx.Response(500, text="boom")] * 4, "gave up after 3 retries"),
    ],
)
def test_errors_say_what_to_do(answers: list[Any], words: str) -> None:
    with pytest.raises(ApiError, match=words):
        client(list(answers), []).send([{"source_id": "a"}], {})


def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(2.0, clock=lambda: now[0])
    import backend_scraper.api as api

    real_sleep = api.time.sleep
    api.time.sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))  # type: ignore[assignment,func-returns-value]
    try:
        limiter.wait()
        now[0] += 0.5
        limiter.wait()
    finally:
        api.time.sleep = real_sleep
    assert slept == [1.5]


def test_state_file_survives_and_keeps_runs_apart(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = ScrapeState(path, "https://photos.google.com/", "http://api")
    first.record(["a", "b"], {"c": "no"})
    again = ScrapeState(path, "https://photos.google.com/", "http://api")
    assert again.done("a") and again.done("c") and not again.done("d")
    other = ScrapeState(path, "https://photos.google.com/", "http://other-api")
    assert not other.done("a")
    other.record(["z"], {})
    assert ScrapeState(path, "https://photos.google.com/", "http://api").done("b")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_cli_explains_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--data-dir", str(tmp_path), "scrape"]) == 2
    assert "--profile DIR" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path), "scrape", "login", "--profile", str(tmp_path)]) == 1
    assert "needs a screen" in capsys.readouterr().err
    code = main(["--data-dir", str(tmp_path), "scrape", "--profile", str(tmp_path / "none")])
    assert code == 1 and "sign in first" in capsys.readouterr().err
    monkeypatch.delenv("DUPFINDER_TOKEN", raising=False)
    state = tmp_path / "state.json"
    state.write_text("{}")
    assert main(["--data-dir", str(tmp_path), "scrape", "--storage-state", str(state)]) == 1
    assert "pass --token" in capsys.readouterr().err


def test_the_scraper_alone_has_the_service_defaults(tmp_path: Path) -> None:
    settings = Settings(DUPFINDER_DATA_DIR=str(tmp_path))
    assert DEFAULTS == {
        "GOOGLE_PHOTOS_URL": settings.google_photos_url,
        "FASTAPI_ENDPOINT": settings.fastapi_endpoint,
        "DUPFINDER_CHROMIUM": settings.chromium_path,
    }
