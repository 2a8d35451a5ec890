"""Use case: the scraper (SCRAPE mode) sends the photos it found on a person's Google Photos page.

Each item is a Google photo id with either the address of its bytes (downloaded later, on the
ingest queue, by the safe fetcher) or the bytes themselves (where the address answers only
inside the person's signed-in browser). Sending the same ids again creates nothing: an id
already known for the person is reported as accepted with its image, unless its download
failed, in which case the new address is tried again on the same image.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.core.decode import DecodeLimits, probe
from backend.core.features import sha256_hex
from backend.core.filenames import checked_filename
from backend.core.rejected import ImageRejected
from backend.models import Image, ImageState, IngestionMode, Job, JobState, utcnow
from backend.services.context import AppContext
from backend.services.errors import Conflict
from backend.services.fetching.safe_fetch import (
    FetchPolicy,
    FetchRefused,
    SafeFetcher,
    check_url,
    policy_from,
)
from backend.services.jobs import count_progress, finish_complete_jobs
from backend.services.pipeline import resend, send_next
from backend.services.storage.blobstore import BlobStore, content_key

log = logging.getLogger(__name__)
SOURCE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


@dataclass(frozen=True)
class ScrapedItem:
    source_id: str
    url: str | None = None
    filename: str | None = None
    taken_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    page_url: str | None = None
    data: bytes | None = None  # the bytes, when the scraper downloaded them itself
    too_large: bool = False  # bytes sent over the size limit (not read beyond it)


@dataclass(frozen=True)
class Accepted:
    source_id: str
    image_id: int
    state: ImageState
    new: bool  # False: the id was known already (nothing created)


@dataclass
class ScrapedResult:
    job: Job
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _page_url(value: str | None) -> str | None:
    """The link back to the photo: kept only when it is an http(s) address (it is shown as a
    link, so never ``javascript:``)."""
    if not value or len(value) > 2048:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _filename(item: ScrapedItem) -> str:
    try:
        return checked_filename(item.filename or "")
    except ImageRejected:
        return f"{item.source_id}.jpg"


def _stored_bytes(
    store: BlobStore, limits: DecodeLimits, owner_id: int, item: ScrapedItem, name: str
) -> tuple[str, str, int]:
    """Checks and stores the sent bytes once by content: (key, sha256, size)."""
    if item.too_large:
        raise ImageRejected(f"the file is over the limit of {limits.max_bytes / 2**20:.1f} MiB")
    assert item.data is not None
    probe(item.data, name, limits)
    sha = sha256_hex(item.data)
    key = content_key(owner_id, sha)
    store.put(key, item.data)
    return key, sha, len(item.data)


def ingest_scraped(
    session: Session,
    store: BlobStore,
    limits: DecodeLimits,
    policy: FetchPolicy,
    owner_id: int,
    items: Iterable[ScrapedItem],
) -> ScrapedResult:
    """Creates an image per new id (FETCHING for a URL, PENDING for bytes) in one job and
    queues its next step, sent when the caller's transaction commits."""
    rejected: list[tuple[str, str]] = []
    wanted: dict[str, ScrapedItem] = {}
    for item in items:
        if not SOURCE_ID.match(item.source_id or ""):
            rejected.append((item.source_id, "the id is not a Google Photos id"))
        elif item.source_id not in wanted:  # the same id twice in one batch: the first counts
            wanted[item.source_id] = item
    known = {
        image.source_id: image
        for image in session.exec(
            select(Image).where(
                Image.owner_id == owner_id,
                Image.source == IngestionMode.SCRAPE,
                col(Image.source_id).in_(list(wanted)),
            )
        )
    }
    job = Job(owner_id=owner_id, kind="scrape", total=0)
    session.add(job)
    session.flush()
    accepted: list[Accepted] = []
    for source_id, item in wanted.items():
        image = known.get(source_id)
        retry = image is not None and image.state == ImageState.FAILED and not image.storage_key
        if image is not None and not retry:
            assert image.id is not None
            accepted.append(Accepted(source_id, image.id, image.state, new=False))
            continue
        name = _filename(item)
        fields: dict[str, object] = {}
        try:
            if item.data is not None or item.too_large:
                key, sha, size = _stored_bytes(store, limits, owner_id, item, name)
                fields = {"storage_key": key, "content_sha256": sha, "size_bytes": size}
                fields |= {"state": ImageState.PENDING, "fetch_url": None}
            elif item.url:
                check_url(item.url, policy)  # what can be refused now is refused now
                fields = {"storage_key": "", "state": ImageState.FETCHING, "fetch_url": item.url}
            else:
                raise ImageRejected("neither the photo's address (url) nor its bytes were sent")
        except (ImageRejected, FetchRefused) as exc:
            rejected.append((source_id, exc.reason))
            continue
        if image is None:
            image = Image(
                owner_id=owner_id,
                source=IngestionMode.SCRAPE,
                source_id=source_id,
                filename=name,
                storage_key="",
                taken_at=item.taken_at,
                width=item.width,
                height=item.height,
                source_url=_page_url(item.page_url),
            )
        image.sqlmodel_update({**fields, "job_id": job.id, "error": None})
        session.add(image)
        try:
            session.flush()
        except IntegrityError:
            # Another request added the same id meanwhile (PostgreSQL; SQLite's write lock
            # serialises them). Not a savepoint: jobs queued so far must leave only after the
            # whole transaction commits. The scraper retries on 409 and finds them known.
            raise Conflict("these photos are being added by another request; retry") from None
        assert image.id is not None
        job.total += 1
        accepted.append(Accepted(source_id, image.id, image.state, new=True))
        send_next(session, image.state, image.id, owner_id)
    if job.total == 0:
        job.state, job.finished_at = JobState.DONE, utcnow()
    session.add(job)
    session.flush()
    return ScrapedResult(job, accepted, rejected)


def fetch_scraped_image(ctx: AppContext, image_id: int) -> None:
    """Task (ingest queue): download a FETCHING image's bytes through the safe fetcher, store
    them, and send it on to analysis; a refusal fails the image with the reason. Idempotent:
    an image no longer fetching is sent on from where it is."""
    with Session(ctx.engine) as session:
        image = session.get(Image, image_id)
        if image is None:
            return
        if image.state != ImageState.FETCHING or not image.fetch_url:
            resend(ctx.jobs, image.state, image_id, image.owner_id)
            return
        owner_id, url, name = image.owner_id, image.fetch_url, image.filename

    # The download happens outside any transaction. A refused ConnectionError propagates:
    # the worker retries it, and gives up through ``give_up_on_fetch``.
    reason = ""
    stored: tuple[str, str, int] | None = None
    try:
        fetched = SafeFetcher(policy_from(ctx.settings)).fetch(url)
        item = ScrapedItem(source_id="", data=fetched.data)
        stored = _stored_bytes(ctx.store, ctx.settings.decode_limits, owner_id, item, name)
    except (FetchRefused, ImageRejected) as exc:
        reason = f"the photo was not downloaded: {exc.reason}"
        log.info("image %s: %s (%s)", image_id, reason, url)

    with ctx.session(write=True) as session:
        image = session.get(Image, image_id, with_for_update=True)
        if image is None or image.state != ImageState.FETCHING:
            return  # deleted, or fetched by another worker meanwhile
        if stored is None:
            _fail(session, image, reason)
            return
        key, sha, size = stored
        image.sqlmodel_update(
            {
                "storage_key": key,
                "content_sha256": sha,
                "size_bytes": size,
                "fetch_url": None,
                "state": ImageState.PENDING,
            }
        )
        session.add(image)
        send_next(session, ImageState.PENDING, image_id, owner_id)


def _fail(session: Session, image: Image, reason: str) -> None:
    image.state, image.error, image.fetch_url = ImageState.FAILED, reason[:500], None
    session.add(image)
    count_progress(session, done=[], failed=[image.job_id])
    finish_complete_jobs(session)


def give_up_on_fetch(ctx: AppContext, error: BaseException, image_id: int) -> None:
    """Retries are exhausted (the photo's server could not be reached): fail with a reason."""
    with ctx.session(write=True) as session:
        image = session.get(Image, image_id, with_for_update=True)
        if image is not None and image.state == ImageState.FETCHING:
            _fail(session, image, f"the photo could not be downloaded ({error})")
