"""A scrape: walk the grid, de-duplicate, send batches, remember what the API acknowledged."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from tqdm import tqdm

from backend_scraper import parse
from backend_scraper import selectors as sel
from backend_scraper.api import ApiClient, RateLimiter
from backend_scraper.browser import BrowserConfig, PhotosPage, photos_context
from backend_scraper.errors import LayoutChanged, ScrapeError
from backend_scraper.state import ScrapeState

log = logging.getLogger(__name__)
SendMode = Literal["auto", "url", "bytes"]


@dataclass(frozen=True)
class ScrapeConfig:
    page_url: str  # GOOGLE_PHOTOS_URL
    api_url: str  # FASTAPI_ENDPOINT
    state_file: Path
    browser: BrowserConfig = field(default_factory=BrowserConfig)
    batch_size: int = 50
    min_interval: float = 1.0  # seconds between two posts to the API
    download_interval: float = 0.2  # between two downloads in the browser (bytes mode)
    scroll_pause: float = 1.0  # for the lazily loaded grid to show more
    idle_rounds: int = 3  # scrolls without anything new before the end is declared
    max_rounds: int = 100_000
    send: SendMode = "auto"  # bytes: download in the signed-in browser; url: the API fetches
    progress: bool = True
    retries: int = 5
    backoff: float = 1.0


@dataclass
class ScrapeReport:
    found: int = 0  # distinct photos seen on the page
    sent: int = 0  # acknowledged by the API in this run
    new: int = 0  # of which were new to the library
    skipped: int = 0  # acknowledged by an earlier run (the state file)
    rejected: dict[str, str] = field(default_factory=dict)
    mode: str = ""


def answers_without_session(url: str) -> bool:
    """Whether the image address gives an image to a client without the browser's cookies
    (then the API can fetch it itself)."""
    try:
        with httpx.stream("GET", url, follow_redirects=False, timeout=15) as response:
            kind = response.headers.get("content-type", "")
            return response.status_code == 200 and kind.startswith("image/")  # body unread
    except httpx.HTTPError:
        return False


class _Sender:
    def __init__(self, config: ScrapeConfig, client: ApiClient, state: ScrapeState,
                 page: PhotosPage, report: ScrapeReport, bar: tqdm[Any]) -> None:  # fmt: skip
        self.config, self.client, self.state, self.page = config, client, state, page
        self.report, self.bar = report, bar
        self.queue: list[parse.FoundPhoto] = []
        self.downloads = RateLimiter(config.download_interval)
        self.mode: Literal["url", "bytes"] | None = None if config.send == "auto" else config.send

    def add(self, photo: parse.FoundPhoto) -> None:
        self.queue.append(photo)
        if len(self.queue) >= self.config.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.queue:
            return
        batch, self.queue = self.queue, []
        if self.mode is None:
            self.mode = "url" if answers_without_session(batch[0].url) else "bytes"
            self.report.mode = self.mode
            log.info("image addresses %s", "answer without the session: sending URLs"
                     if self.mode == "url" else "need the session: sending the bytes")  # fmt: skip
        items: list[dict[str, Any]] = []
        blobs: dict[str, bytes] = {}
        for photo in batch:
            item = photo.as_item()
            if self.mode == "bytes":
                self.downloads.wait()
                blobs[photo.source_id] = self.page.download(photo.url)
                item.pop("url")
            items.append(item)
        answer = self.client.send(items, blobs)
        self.state.record(answer.sent, answer.rejected)
        self.report.sent += len(answer.sent)
        self.report.new += answer.new
        self.report.rejected.update(answer.rejected)
        self.bar.update(len(batch))
        self.bar.set_postfix(sent=self.report.sent, new=self.report.new)


def scrape(config: ScrapeConfig, token: str, refresh_token: str | None = None) -> ScrapeReport:
    """Walk the photos page until it shows nothing new, sending what is not sent yet.
    ``refresh_token``: renews the short-lived ``token`` during a long run."""
    state = ScrapeState(config.state_file, config.page_url, config.api_url)
    report = ScrapeReport(mode=config.send)
    client = ApiClient(
        config.api_url,
        token,
        config.min_interval,
        retries=config.retries,
        backoff=config.backoff,
        refresh_token=refresh_token,
    )
    bar = tqdm(unit="photo", desc="sending", file=sys.stderr, disable=not config.progress)
    try:
        with photos_context(config.browser) as context:
            browser = config.browser
            page = PhotosPage.open(context, config.page_url, browser.timeout, browser.grace)
            sender = _Sender(config, client, state, page, report, bar)
            seen: set[str] = set()
            idle = 0
            for _round in range(config.max_rounds):
                page.check_signed_in()  # a session can expire mid-run
                entries = page.read_grid()
                fresh = 0
                for entry in entries:
                    photo = parse.found_photo(entry, page.url)
                    if photo is None:
                        if parse.photo_id(entry.get("href", "")) is not None:
                            raise LayoutChanged(sel.THUMBNAIL_MEANING, sel.THUMBNAIL_STYLE,
                                                page.url)  # fmt: skip
                        continue
                    if photo.source_id in seen:
                        continue
                    seen.add(photo.source_id)
                    fresh += 1
                    if state.done(photo.source_id):
                        report.skipped += 1
                        bar.update(1)
                        continue
                    sender.add(photo)
                report.found = len(seen)
                idle = 0 if fresh else idle + 1
                if idle >= config.idle_rounds:
                    break
                page.scroll()
                page.pause(config.scroll_pause)
            sender.flush()
            report.mode = sender.mode or report.mode
    finally:
        bar.close()
        client.close()
    if report.found == 0:
        raise ScrapeError("the photos page showed no photos")
    return report
