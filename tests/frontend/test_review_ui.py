"""Reviewing duplicates in the web UI, in real Chromium against one real `dupfinder serve`: a
person signs up, drops real photos on the page, compares two copies full size, resolves with
the keyboard, undoes, accepts a tier's suggestions in bulk, restores from the trash, exports,
and keeps the session and the decisions across a reload and a new tab; a second person, on a
phone-sized screen, sees none of it. One test: one server, one browser, few page loads.
Screenshots of each screen land in test-artifacts/ui/."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.frontend.test_web_ui import CHROMIUM, serve
from tests.frontend.ui import (
    IMAGES_LOADED,
    Shots,
    drop_files,
    serious_violations,
    text,
    until,
    wait_text,
)
from tests.helpers import images as img
from tests.helpers import photos

playwright = pytest.importorskip("playwright.sync_api")
PASSWORD = "a long review passphrase"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"DUPFINDER_GROUPING_GATHER_SECONDS": "0"}
    with serve(tmp_path_factory.mktemp("review-ui"), env) as address:
        yield address


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (Debian package `chromium`)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def real_photos() -> dict[str, bytes]:
    """Real photographs: a byte copy (exact), a quality-60 copy and a half-size copy (near),
    one photo alone, and a file that is no picture."""
    astronaut = photos.jpeg(photos.skimage_photo("astronaut.png"))
    coffee = photos.skimage_photo("coffee.png")
    cat = photos.skimage_photo("chelsea.png")
    return {
        "astronaut.jpg": astronaut,
        "astronaut (1).jpg": astronaut,
        "coffee.jpg": photos.jpeg(coffee, 95),
        "coffee-q60.jpg": photos.jpeg(coffee, 60),
        "chelsea.jpg": photos.jpeg(cat),
        "chelsea-small.jpg": photos.jpeg(cat.resize((cat.width // 2, cat.height // 2))),
        "rocket.jpg": photos.jpeg(photos.skimage_photo("rocket.jpg")),
        "notes.jpg": b"a shopping list, not a picture",
    }


def burst_shot(subsec: str, shrink: bool = False) -> bytes:
    """One frame of a burst: a real photo with the camera's capture time to the 1/100 s."""
    im = photos.skimage_photo("motorcycle_left.png")
    if shrink:
        im = im.resize((im.width - 8, im.height - 6))
    exif = img.camera_exif(make="Canon", model="EOS 5D")
    exif.get_ifd(0x8769)[0x9291] = subsec  # SubSecTimeOriginal
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def sign_up(page: Any, url: str, email: str, name: str, shots: Shots) -> None:
    page.goto(url + "/")
    shots(page, "sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=name]", name)
    page.click("#register")
    try:
        page.wait_for_selector("#app:not([hidden])")
    except Exception:
        raise AssertionError(f"not signed in: {text(page, '#auth-message')!r}") from None


def tab(page: Any, tier: str) -> None:
    """Open a tier's tab and wait until the groups shown are that tier's."""
    page.click(f"#tiers button[data-tier={tier}]")
    until(page, f"document.querySelector('#tiers .active').dataset.tier === '{tier}'")
    if tier != "trash":
        until(
            page,
            "[...document.querySelectorAll('#groups .group')]"
            f".every(g => g.dataset.tier === '{tier}')",
        )


def count(page: Any, tier: str) -> str:
    return text(page, f"#tiers button[data-tier={tier}] .count")


def confirm_with_enter(page: Any, title: str, shots: Shots | None = None) -> str:
    page.wait_for_selector("#confirm[open]")
    if shots:
        shots(page, "confirm", full_page=False)
    assert re.search(title, text(page, "#confirm-title")), text(page, "#confirm-title")
    body = text(page, "#confirm-text")
    page.keyboard.press("Enter")  # the confirming button has the focus
    page.wait_for_selector("#confirm", state="hidden")
    return body


def test_review_journey(url: str, chromium: Any, tmp_path: Path) -> None:
    shots = Shots("review")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_up(page, url, "ann@example.com", "Ann", shots)
    shots(page, "empty")
    assert "drop them (or a whole folder)" in text(page, "#empty")

    # Upload by drag-and-drop: per-photo progress, then the summary.
    drop_files(page, real_photos())
    summary = wait_text(page, "#upload-summary", r"added", timeout=60)
    assert summary == "7 added, 1 exact and 2 near groups, 1 rejected.", summary
    rows = page.eval_on_selector_all(
        "#upload-files li",
        "ls => ls.map(l => [l.querySelector('.name').textContent," " l.dataset.state])",
    )
    assert sorted(rows)[-1] == ["rocket.jpg", "done"]
    assert ["notes.jpg", "rejected"] in rows and sum(s == "done" for _, s in rows) == 7
    assert "notes.jpg: the file is not an image" in text(page, "#rejected")
    until(page, "document.querySelector('#tiers [data-tier=near] .count').textContent === '(2)'")
    assert count(page, "exact") == "(1)" and count(page, "similar") == "(0)"

    # The exact group: large previews, KEEP / TRASH, the facts, two identical names told apart.
    until(page, IMAGES_LOADED)
    group = page.locator(".group")
    assert group.count() == 1
    figures = group.locator("figure")
    badges = sorted(figures.locator(".badge").all_text_contents())
    assert badges == ["KEEP", "TRASH"]
    facts = figures.first.locator("dl").text_content() or ""
    for fact in ("Size", "512 × 512", "JPEG", "Upload", "Added", "#"):
        assert fact in facts, facts
    assert "frees 68" in text(page, ".group .frees")
    width = page.eval_on_selector(".group figure img", "i => i.getBoundingClientRect().width")
    assert width >= 240  # large previews, not 140 px thumbnails
    shots(page, "exact-group")

    # Full-size compare from the photo marked TRASH: zoom and pan move both photos together.
    group.locator("figure.trash .preview").click()
    page.wait_for_selector("#viewer[open]")
    until(
        page,
        "[...document.querySelectorAll('#viewer-stage img')]"
        ".every(i => i.complete && i.naturalWidth === 512)",
    )
    page.click("#zoom-in")
    page.click("#zoom-in")
    page.focus("#viewer-stage")
    page.keyboard.press("ArrowLeft")
    transforms = page.eval_on_selector_all(
        "#viewer-stage img", "is => is.map(i => i.style.transform)"
    )
    assert transforms[0] == transforms[1] == "translate(60px, 0px) scale(2.25)", transforms
    assert text(page, "#zoom-level") == "225 %"
    shots(page, "compare-zoomed", full_page=False)
    page.click("#viewer [data-mode=swipe]")
    assert page.is_visible("#swipe")
    page.fill("#swipe", "30")
    clip = page.eval_on_selector("#pane-right", "p => p.style.clipPath")
    assert clip == "inset(0px 0px 0px 30%)", clip
    shots(page, "compare-swipe", full_page=False)
    page.keyboard.press("f")  # flicker: the right photo comes and goes
    until(page, "document.querySelector('#pane-right').classList.contains('off')", 5)
    until(page, "!document.querySelector('#pane-right').classList.contains('off')", 5)
    page.keyboard.press("Escape")
    page.wait_for_selector("#viewer", state="hidden")

    # Shortcuts are listed under "?".
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog[open]")
    assert "Keep all photos of the group" in text(page, "#help-dialog")
    shots(page, "shortcuts", full_page=False)
    page.keyboard.press("Escape")

    # Resolve with the keyboard: next group (j), confirm (Enter), then Enter in the dialog.
    page.keyboard.press("j")
    until(page, "document.activeElement.classList.contains('group')")
    page.keyboard.press("Enter")
    asked = confirm_with_enter(page, r"^Trash 1 photo\?$")
    assert "68" in asked and "You can undo" in asked
    wait_text(page, "#toast-text", r"^Saved\. 1 photo moved to the trash\.$")
    shots(page, "resolved-saved", full_page=False)
    until(page, "document.querySelectorAll('.group').length === 0")
    until(page, "document.querySelector('#tiers [data-tier=exact] .count').textContent === '(0)'")

    # Undo (the toast's button, or u) brings the group back with both photos.
    assert page.is_visible("#toast-undo")
    page.keyboard.press("u")
    wait_text(page, "#toast-text", r"^Undone: the group and its photos are back\.$")
    until(page, "document.querySelectorAll('.group figure').length === 2")
    until(page, "document.querySelector('#tiers [data-tier=exact] .count').textContent === '(1)'")

    # Keep photo 1 only (key 1) and confirm again; the other goes to the trash.
    page.keyboard.press("j")
    page.keyboard.press("1")
    assert text(page, ".group figure:first-of-type .badge") == "KEEP"
    page.keyboard.press("Enter")
    confirm_with_enter(page, r"^Trash 1 photo\?$")
    wait_text(page, "#toast-text", r"^Saved\.")
    until(page, "document.querySelectorAll('.group').length === 0")
    assert "No exact duplicates to review" in text(page, "#empty")

    # Near tier: accept every suggestion in bulk, with the count and the space it frees.
    tab(page, "near")
    until(page, "document.querySelectorAll('.group').length === 2")
    assert "tier=near" in page.url
    shots(page, "near-groups")
    page.click("#accept-tier")
    asked = confirm_with_enter(page, r"^Accept the suggestions for 2 groups\?$", shots)
    assert "2 photos to the trash" in asked and "freeing" in asked
    wait_text(page, "#toast-text", r"^Saved\. 2 groups resolved, 2 photos trashed")
    until(page, "document.querySelectorAll('.group').length === 0")

    # The trash: three photos; restore one.
    tab(page, "trash")
    until(page, "document.querySelectorAll('#trash-items li').length === 3")
    assert "tier=trash" in page.url
    shots(page, "trash")
    page.check("#trash-items li:first-child input")
    page.click("#trash-restore")
    wait_text(page, "#toast-text", r"^Saved\. 1 photo restored\.$")
    until(page, "document.querySelectorAll('#trash-items li').length === 2")

    # Export: the decisions and groups as JSON and CSV downloads.
    tab(page, "exact")
    with page.expect_download() as got:
        page.click("#export-json")
    exported = json.loads(Path(got.value.path()).read_text())
    assert "astronaut" in json.dumps(exported)
    with page.expect_download() as got:
        page.click("#export-csv")
    rows_csv = list(csv.reader(io.StringIO(Path(got.value.path()).read_text())))
    assert len(rows_csv) > 1 and any("coffee-q60.jpg" in r for r in rows_csv)

    # A reload keeps the session, the tier and the decisions; so does a new tab.
    tab(page, "near")
    page.reload()
    page.wait_for_selector("#app:not([hidden])")
    until(page, "document.querySelector('#tiers .active').dataset.tier === 'near'")
    until(page, "document.querySelector('#tiers [data-tier=exact] .count').textContent !== ''")
    assert count(page, "exact") == "(0)"
    second = context.new_page()
    second.goto(url + "/?tier=trash")
    second.wait_for_selector("#app:not([hidden])")
    assert text(second, "#who") == "Ann"
    until(second, "document.querySelectorAll('#trash-items li').length === 2")
    shots(second, "new-tab-trash")
    second.click("#trash-empty")
    asked = confirm_with_enter(second, r"^Empty the trash\?$")
    assert "2 photos will be deleted for good" in asked
    wait_text(second, "#toast-text", r"^Saved\. 2 photos deleted, [0-9.]+ KB freed\.$")
    wait_text(second, "#trash-message", r"^The trash is empty\.$")

    # Accessibility of the review screen (axe-core: no serious or critical finding).
    tab(page, "exact")
    assert serious_violations(page) == []
    assert errors == []

    ann_image = page.evaluate("fetch('/api/v1/images?size=1').then(r => r.json())")["items"][0]
    second_person_on_a_phone(chromium, url, ann_image["id"], tmp_path)

    # Sign out everywhere: the other tab is signed out too.
    page.click("#logout-everywhere")
    page.wait_for_selector("#auth:not([hidden])")
    second.reload()
    second.wait_for_selector("#auth:not([hidden])")
    assert second.is_hidden("#app")
    context.close()


def second_person_on_a_phone(chromium: Any, url: str, ann_image: int, tmp: Path) -> None:
    shots = Shots("phone")
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    sign_up(page, url, "bob@example.com", "Bob", shots)
    # Ann's photos and decisions are not Bob's: nothing to review, an empty trash, and her
    # photos answer 404.
    until(page, "document.querySelector('#tiers [data-tier=exact] .count').textContent !== ''")
    assert [count(page, t) for t in ("exact", "near", "similar")] == ["(0)"] * 3
    status = page.evaluate(f"fetch('/api/v1/images/{ann_image}').then(r => r.status)")
    assert status == 404
    assert page.evaluate("fetch('/api/v1/images').then(r => r.json())")["total"] == 0
    shots(page, "empty")

    # Five families of copies and a burst (two shots 0.4 s apart), chosen as a folder.
    files, _ = img.families(5)
    files += [("IMG_1.jpg", burst_shot("12")), ("IMG_2.jpg", burst_shot("52", shrink=True))]
    for n, (name, data) in enumerate(files):
        path = tmp / "Phone" / ("Camera" if n % 2 else "") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    page.set_input_files("#folder", str(tmp / "Phone"))
    page.click("#upload")
    wait_text(
        page, "#upload-summary", r"^22 added, 5 exact and 5 near groups, 1 similar", timeout=60
    )
    assert "Phone/Camera/p0-copy.jpg" in text(page, "#upload-files")

    # Similar shots: all KEEP at first, nothing offered for the trash, no bulk acceptance.
    tab(page, "similar")
    until(page, "document.querySelectorAll('.group').length === 1")
    badges = set(page.locator(".group").first.locator(".badge").all_text_contents())
    assert badges == {"KEEP"}
    assert page.is_disabled(".group .resolve") and page.is_hidden("#accept-tier")
    assert "Pick the best shot" in text(page, ".group .action")
    shots(page, "similar")
    tab(page, "near")
    until(page, "document.querySelectorAll('.group').length === 5")
    # Photos load lazily: those on screen first (the rest as they scroll into view).
    until(page, "(i => i.complete && i.naturalWidth > 0)(document.querySelector('#groups img'))")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3200, f"five groups make a {height} px page on a phone"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page
    shots(page, "near-groups")
    assert serious_violations(page) == []
    context.close()
