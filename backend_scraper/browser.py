"""The browser side: Debian's Chromium driven by Playwright (never a downloaded browser).

``login`` starts Chromium as a plain program (no automation: Google refuses to sign in inside
a browser that automation controls) on a profile folder; ``open_photos`` reuses that profile,
or a Playwright storage-state file, headless, and walks the grid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from backend_scraper import selectors as sel
from backend_scraper.errors import LayoutChanged, ScrapeError, SignInRequired

# Headless and quiet; the same password store as `login` so the profile's cookies decrypt.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--password-store=basic",
]
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class BrowserConfig:
    chromium: str = "/usr/bin/chromium"
    profile: Path | None = None  # a persistent profile signed in with `login`
    storage_state: Path | None = None  # or Playwright's storage-state JSON
    headless: bool = True
    timeout: float = 30.0  # seconds for the page to load and show the grid, at most
    # Once the page has loaded and gone quiet, how long a grid may still take to appear.
    grace: float = 5.0


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def login_command(chromium: str, profile: Path, url: str) -> list[str]:
    return [chromium, f"--user-data-dir={profile}", "--password-store=basic", url]


def login(chromium: str, profile: Path, url: str) -> None:
    """Open a normal (not automated) Chromium window on ``profile`` at ``url`` and wait for
    the person to sign in and close it."""
    if not has_display():
        raise ScrapeError(
            "signing in needs a screen: no display here (DISPLAY/WAYLAND_DISPLAY unset). Run "
            "`dupfinder scrape login --profile DIR` on a machine with a desktop, then copy the "
            "profile folder here (or use --storage-state with a file saved there)."
        )
    if not Path(chromium).exists():
        raise ScrapeError(f"Chromium not found at {chromium} (Debian: apt install chromium)")
    profile.mkdir(parents=True, exist_ok=True)
    print(
        f"A Chromium window opens on {url}: sign in to Google there, check that your photos "
        "show, then close the window.",
        file=sys.stderr,
    )
    subprocess.run(login_command(chromium, profile, url), check=False)


class _SignInGuard:
    """Answers navigations to Google's sign-in page with a stub (never loading it), and
    remembers that the page asked for a sign-in."""

    def __init__(self) -> None:
        self.asked: str | None = None

    def handle(self, route: Route) -> None:
        request = route.request
        if not request.is_navigation_request():
            route.continue_()
            return
        if urlsplit(request.url).hostname in sel.SIGN_IN_HOSTS:
            self._stub(route, request.url)
            return
        try:
            response = route.fetch(max_redirects=0)
        except PlaywrightError:
            route.abort()
            return
        location = response.headers.get("location", "")
        if response.status in REDIRECTS and urlsplit(location).hostname in sel.SIGN_IN_HOSTS:
            self._stub(route, location)
            return
        route.fulfill(response=response)

    def _stub(self, route: Route, url: str) -> None:
        self.asked = url
        route.fulfill(status=200, content_type="text/html", body="<html>sign in</html>")


@contextmanager
def photos_context(config: BrowserConfig) -> Iterator[BrowserContext]:
    if not Path(config.chromium).exists():
        raise ScrapeError(f"Chromium not found at {config.chromium} (Debian: apt install chromium)")
    with sync_playwright() as p:
        if config.profile is not None:
            if not config.profile.is_dir():
                raise ScrapeError(
                    f"no browser profile at {config.profile}: sign in first with "
                    f"`dupfinder scrape login --profile {config.profile}`"
                )
            context = p.chromium.launch_persistent_context(
                str(config.profile),
                executable_path=config.chromium,
                headless=config.headless,
                args=CHROMIUM_ARGS,
            )
            try:
                yield context
            finally:
                context.close()
            return
        browser = p.chromium.launch(
            executable_path=config.chromium, headless=config.headless, args=CHROMIUM_ARGS
        )
        try:
            state = str(config.storage_state) if config.storage_state else None
            if state is not None and not Path(state).is_file():
                raise ScrapeError(f"no storage-state file at {state}")
            context = browser.new_context(storage_state=state)
            try:
                yield context
            finally:
                context.close()
        finally:
            browser.close()


@dataclass
class PhotosPage:
    """The photos page, opened and checked: signed in, and showing a grid."""

    context: BrowserContext
    page: Page
    url: str

    @classmethod
    def open(cls, context: BrowserContext, url: str, timeout: float, grace: float) -> PhotosPage:
        guard = _SignInGuard()
        context.route("**/*", guard.handle)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(timeout * 1000)
        try:
            page.goto(url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            raise ScrapeError(f"the photos page {url} did not load: {exc.message}") from None
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            if guard.asked or urlsplit(page.url).hostname in sel.SIGN_IN_HOSTS:
                raise SignInRequired(guard.asked or page.url)
            if page.query_selector(sel.PHOTO_LINK) is not None:
                break
            now = time.monotonic()
            if quiet_since is None:
                try:  # the page has loaded and its network gone quiet (or never will)
                    page.wait_for_load_state("networkidle", timeout=max(deadline - now, 0.1) * 1000)
                except PlaywrightError:
                    pass
                quiet_since = time.monotonic()
            elif now > min(deadline, quiet_since + grace):
                raise LayoutChanged(sel.PHOTO_LINK_MEANING, sel.PHOTO_LINK, page.url)
            page.wait_for_timeout(200)
        context.unroute("**/*", guard.handle)
        return cls(context, page, page.url)

    def check_signed_in(self) -> None:
        if urlsplit(self.page.url).hostname in sel.SIGN_IN_HOSTS:
            raise SignInRequired(self.page.url)

    def read_grid(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.page.evaluate(
            sel.READ_GRID,
            [sel.PHOTO_LINK, sel.THUMBNAIL_STYLE, sel.THUMBNAIL_IMG, list(sel.LABEL_ATTRIBUTES)],
        )
        return entries

    def scroll(self) -> None:
        self.page.evaluate(sel.SCROLL_TO_LAST, sel.PHOTO_LINK)
        self.page.mouse.wheel(0, 2000)

    def pause(self, seconds: float) -> None:
        self.page.wait_for_timeout(seconds * 1000)

    def download(self, url: str) -> bytes:
        """The image's bytes, fetched with the signed-in session's cookies."""
        try:
            response = self.context.request.get(url, timeout=60_000)
        except PlaywrightError as exc:
            raise ScrapeError(f"downloading {url} in the browser failed: {exc.message}") from None
        if response.status != 200:
            raise ScrapeError(f"downloading {url} in the browser: the answer was {response.status}")
        return response.body()
