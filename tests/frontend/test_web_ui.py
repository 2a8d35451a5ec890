"""The web UI in real Chromium against a real `dupfinder serve` process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.frontend.ui import IMAGES_LOADED, until, wait_text
from tests.helpers import photos
from tests.helpers.app import MODELS_ON
from tests.helpers.images import decoded, encode, jpeg

CHROMIUM = os.environ.get("DUPFINDER_CHROMIUM", "/usr/bin/chromium")
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path, {}) as url:
        yield url


@contextmanager
def serve(tmp_path: Path, extra_env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, DUPFINDER_DATA_DIR=str(tmp_path / "data"), **extra_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("dupfinder serve did not answer /health within 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (Debian package `chromium`)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


def test_sign_up_upload_review_and_dismiss(server: str, browser: object, tmp_path: Path) -> None:
    original = jpeg(11, (480, 360))
    files = {
        "holiday.jpg": original,
        "holiday-copy.jpg": original,
        "holiday.png": encode(decoded(original).convert("RGB"), "PNG"),  # same pixels
        "other.jpg": jpeg(99, (480, 360)),
        "notes.jpg": b"this is not a picture",
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))

    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.fill("input[name=email]", "web@example.com")
    page.fill("input[name=password]", "correct horse")
    page.fill("input[name=name]", "Web Person")
    page.click("#register")
    try:
        page.wait_for_selector("#app:not([hidden])")
    except Exception:
        raise AssertionError(f"not signed in: {page.text_content('#auth-message')!r}") from None
    assert page.text_content("#who") == "Web Person"

    page.set_input_files("#files", paths)
    page.click("#upload")
    wait_text(page, "#upload-message", r"^Analysed 4 of 4", timeout=30)
    rejected = page.text_content("#rejected") or ""
    assert "notes.jpg" in rejected and "not an image" in rejected
    assert (
        wait_text(page, "#upload-summary", "added")
        == "4 added, 1 exact and 0 near groups, 1 rejected."
    )
    # "Recent imports" shows the upload as a job with its count (polled while it ran).
    job = wait_text(page, "#imports-list li", r"finished")
    assert job.startswith("Upload · 4 of 4 done · finished · "), job

    until(page, IMAGES_LOADED)
    groups = page.query_selector_all(".group")
    assert len(groups) == 1
    names = [c.text_content() or "" for c in groups[0].query_selector_all(".filename")]
    assert sorted(n.split(". ", 1)[1] for n in names) == [
        "holiday-copy.jpg",
        "holiday.jpg",
        "holiday.png",
    ]
    assert groups[0].query_selector("figure.keep") is not None

    page.click(".group .dismiss")
    until(page, "document.querySelectorAll('.group').length === 0")
    assert wait_text(page, "#toast-text", "Saved") == "Saved. all kept, marked as not duplicates."
    assert (page.text_content("#empty p") or "") == "No exact duplicates to review."

    page.reload()  # the session survives a reload; the dismissed group stays gone
    page.wait_for_selector("#app:not([hidden])")
    wait_text(page, "#page-info", "0 groups")
    assert page.query_selector_all(".group") == []


def test_wrong_password_is_explained(server: str, browser: object) -> None:
    httpx.post(
        server + "/api/v1/auth/register",
        json={"email": "someone@example.com", "password": "right password", "name": "S"},
    ).raise_for_status()
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.fill("input[name=email]", "someone@example.com")
    page.fill("input[name=password]", "wrong password")
    page.click("#login")
    wait_text(page, "#auth-message", ".")
    assert page.text_content("#auth-message") == "wrong email or password"
    assert page.is_hidden("#app")


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    """`dupfinder serve` with SSCD and YOLO on (the tests' default switches them off)."""
    env = {**MODELS_ON, "DUPFINDER_CLIP_MODEL": "none"}
    with serve(tmp_path, env) as url:
        yield url


def test_models_show_tags_explanations_and_filter(
    model_server: str, browser: object, tmp_path: Path
) -> None:
    bus = photos.decoded(photos.yolo_sample("bus.jpg"))
    files = {
        "bus.jpg": photos.yolo_sample("bus.jpg"),
        "bus-crop.jpg": photos.jpeg(photos.crop(bus, 0.75)),
        "cat.jpg": photos.jpeg(photos.skimage_photo("chelsea.png")),
        "cat-captioned.jpg": photos.jpeg(photos.captioned(photos.skimage_photo("chelsea.png"))),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(model_server + "/")
    page.fill("input[name=email]", "models@example.com")
    page.fill("input[name=password]", "correct horse")
    page.click("#register")
    page.wait_for_selector("#app:not([hidden])")
    page.set_input_files("#files", paths)
    page.click("#upload")
    wait_text(page, "#upload-message", r"^Analysed 4 of 4", timeout=90)
    # Object tags are filled after grouping (objects.detect), so a page loaded as soon as the
    # groups exist may not show them yet; a reload a moment later does.
    deadline = time.monotonic() + 60
    while True:
        page.click("#tiers button[data-tier=near]")
        until(page, "document.querySelectorAll('.group').length === 2")
        text = " ".join(g.text_content() or "" for g in page.query_selector_all(".group"))
        if "Shows: " in text or time.monotonic() > deadline:
            break
        time.sleep(1)
        page.reload()
        page.wait_for_selector("#app:not([hidden])")
    assert "copy-detection similarity" in text and "Shows: " in text

    page.fill("#object-filter", "bus")
    page.click("#filter")
    until(page, "document.querySelectorAll('.group').length === 1")
    (group,) = page.query_selector_all(".group")
    assert "bus" in (group.query_selector(".tags").text_content() or "")
    group.query_selector(".pairs summary").click()
    assert "both show" in (group.query_selector(".pairs li").text_content() or "")
    suggestions = page.eval_on_selector_all("#object-names option", "os => os.map(o => o.value)")
    assert "bus" in suggestions and "person" in suggestions

    page.fill("#object-filter", "giraffe")
    page.click("#filter")
    until(page, "document.querySelectorAll('.group').length === 0")
    assert page.text_content("#empty p") == 'No groups in this tier show "giraffe".'
    page.click("#clear-filter")
    until(page, "document.querySelectorAll('.group').length === 2")
