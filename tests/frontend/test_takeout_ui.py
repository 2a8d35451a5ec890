"""The web UI's "Import a Takeout archive" form in real Chromium against `dupfinder serve`."""

from __future__ import annotations

from pathlib import Path

from tests.frontend.test_web_ui import browser, server  # noqa: F401 (fixtures)
from tests.frontend.ui import until, wait_text
from tests.helpers import images as img
from tests.helpers.takeout import make_tgz, make_zip, real_photo, sidecar

Y = "Takeout/Google Photos/Photos from 2023"


def test_import_a_takeout_export_in_the_browser(
    server: str, browser: object, tmp_path: Path  # noqa: F811
) -> None:
    photo = real_photo(0, side=400)
    parts = [
        make_zip(
            tmp_path / "takeout-001.zip",
            {
                f"{Y}/IMG_1.jpg": photo,
                f"{Y}/IMG_1-edited.jpg": img.resized(img.brightened(photo), 0.7),
                f"{Y}/IMG_1.MOV": b"\x00\x00\x00\x14ftypqt  ",
            },
        ),
        make_tgz(
            tmp_path / "takeout-002.tgz",
            {f"{Y}/IMG_1.jpg.json": sidecar("IMG_1.jpg", url="https://photos.google.com/p/1")},
        ),
    ]
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.fill("input[name=email]", "takeout@example.com")
    page.fill("input[name=password]", "correct horse")
    page.click("#register")
    page.wait_for_selector("#app:not([hidden])")

    page.set_input_files("#takeout-files", [str(p) for p in parts])
    page.click("#takeout-import")
    wait_text(page, "#takeout-message", "Analysed 2 of 2", timeout=30)
    message = page.text_content("#takeout-message") or ""
    assert message.startswith("2 photo(s): 2 new, 0 imported before; 1 file(s) skipped"), message
    assert "videos are not analysed" in (page.text_content("#takeout-skipped") or "")
    page.click("#tiers button[data-tier=near]")
    until(page, "document.querySelectorAll('.group').length === 1", timeout=10)
    captions = page.text_content(".group") or ""
    assert "IMG_1.jpg" in captions and "IMG_1-edited.jpg" in captions

    # A hostile archive: refused with the server's reason, nothing imported.
    evil = make_zip(tmp_path / "evil.zip", {"../../evil.jpg": photo})
    page.set_input_files("#takeout-files", [str(evil)])
    page.click("#takeout-import")
    until(page, "document.querySelector('#takeout-message').classList.contains('error')")
    assert "path traversal" in (page.text_content("#takeout-message") or "")
