"""The Google Photos panel in real Chromium, against a real `dupfinder serve` and the fake Google:
connect (Google's page sends the browser back), pick (the picker opens in a new tab), watch the
import finish and its group appear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.frontend.test_web_ui import browser, serve  # noqa: F401  (the Chromium fixture)
from tests.frontend.ui import IMAGES_LOADED, until, wait_text
from tests.helpers.fake_google import FakeGoogle, Item, fake_google, jpeg_of

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with fake_google() as f:
        yield f


def test_connect_pick_and_watch_the_import(
    fake: FakeGoogle,
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    photo = jpeg_of("astronaut.png")
    fake.add_photos(
        "web@gmail.com",
        [Item("w-1", "astronaut.jpg", photo), Item("w-2", "astronaut copy.jpg", photo)],
    )
    env = {k: str(v) for k, v in fake.settings().items()}
    env["DUPFINDER_GROUPING_GATHER_SECONDS"] = "0"
    fake.account = "web@gmail.com"
    with serve(tmp_path, env) as server:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(server + "/")
        page.fill("input[name=email]", "web@example.com")
        page.fill("input[name=password]", "correct horse")
        page.click("#register")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_selector("#google-connect:not([hidden])")
        assert page.text_content("#google-status") == "Not connected."

        page.click("#google-connect")  # to Google's page, which sends the browser back
        wait_text(page, "#google-status", r"^Connected as web@gmail\.com\.$")
        assert page.text_content("#google-message") == "Google Photos is connected."
        assert "google=" not in page.url  # the outcome was read and cleared from the address

        with page.expect_popup() as popup:
            page.click("#google-pick")
        picker = popup.value  # a new tab, not an iframe
        assert not page.query_selector("iframe")
        wait_text(page, "#google-message", "Analysis finished", timeout=30)
        message = page.text_content("#google-message") or ""
        assert message.startswith("Import finished: 2 new photo(s), 0 already here"), message
        assert "/picker/" in picker.url or picker.is_closed()
        until(page, IMAGES_LOADED)
        assert len(page.query_selector_all(".group")) == 1

        page.click("#google-disconnect")
        page.wait_for_selector("#google-connect:not([hidden])")
        assert any(t in fake.revoked for t in fake.refresh_tokens)
