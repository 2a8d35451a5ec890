"""API mode: photos a person picks in Google Photos' own picker, imported into their library.

A pick is a Picker session. ``start_pick`` opens it at Google; the person picks in Google's UI
(a new tab); the task ``google.import_pick`` polls the session at Google's ``pollInterval``
(re-sending itself with a delay, so no worker thread waits) until the person is done or the
session's ``timeoutIn`` passes (the pick ends "expired", nothing imported), then lists every
picked item, downloads each photo with the person's own token and stores it as an upload would
be (``IngestionMode.API``, the media item id as source id: picking a photo again adds nothing),
and finally deletes the session at Google. Each photo is committed on its own, so a worker
killed mid-import resumes where it stopped and every picked photo ends up there exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from backend.core.decode import probe
from backend.core.features import sha256_hex
from backend.core.filenames import checked_filename, shown_name
from backend.core.rejected import ImageRejected
from backend.models import (
    PICK_OPEN,
    GooglePick,
    Image,
    IngestionMode,
    Job,
    JobState,
    PickState,
    utcnow,
)
from backend.services.context import AppContext
from backend.services.errors import AppError
from backend.services.integrations.google import (
    Credentials,
    NotConnected,
    ReconnectNeeded,
    require_enabled,
)
from backend.services.integrations.google_picker import (
    BytesGone,
    GoogleBusy,
    MediaItem,
    PickerClient,
    PickerSession,
    PickingUnfinished,
    SessionGone,
    TooManySessions,
    UntrustedAddress,
)
from backend.services.job_queue import enqueue_job
from backend.services.jobs import count_progress
from backend.services.pipeline import send_next
from backend.services.storage.blobstore import content_key

log = logging.getLogger(__name__)

IMPORT_PICK = "google.import_pick"
JOB_KIND = "google_pick"
DEFAULT_TIMEOUT = 30 * 60.0  # when Google's pollingConfig says nothing
BUSY_RETRY = 60.0  # seconds before a step that found Google busy is tried again
VIDEO = "videos are not imported (only photos are compared)"
EXPIRED = "the picking session ended before any photos were picked; start a new pick"
GONE = "Google no longer knows this picking session (it was closed or expired); pick again"


def picker_for(ctx: AppContext, owner_id: int) -> PickerClient:
    """A Picker client with ``owner_id``'s own token: an import never holds another's."""
    return PickerClient(
        ctx.settings.google_picker_url,
        Credentials(ctx, owner_id),
        backoff=ctx.settings.retry_base_seconds,
        max_download=ctx.settings.max_upload_bytes,
    )


@dataclass
class StartedPick:
    pick: GooglePick
    notice: str | None = None  # e.g. stale sessions closed to make room


def start_pick(ctx: AppContext, owner_id: int) -> StartedPick:
    """Open a Picker session at Google, record the pick and its job, queue its import."""
    require_enabled(ctx.settings)
    notice = None
    with picker_for(ctx, owner_id) as client:
        client.credentials.check()
        try:
            try:
                started = client.create_session()
            except TooManySessions:
                closed = close_stale_sessions(ctx, owner_id, client)
                notice = (
                    f"Google allows only a few open picking sessions; {closed} older one(s) "
                    "of yours were closed to make room"
                )
                try:
                    started = client.create_session(retry_exhausted=True)
                except (TooManySessions, GoogleBusy):
                    raise AppError(
                        "Google Photos says you have too many picking sessions open "
                        f"({closed} stale one(s) were just closed); wait a few minutes and "
                        "try again",
                        429,
                    ) from None
        except GoogleBusy as exc:
            raise AppError(f"{exc}; please try again in a moment", 503) from None
    timeout = started.timeout_seconds or DEFAULT_TIMEOUT
    with ctx.session(write=True) as session:
        # The job waits for one step beyond its photos (the pick itself), so it cannot finish
        # before the person has picked and every photo is in.
        job = Job(owner_id=owner_id, kind=JOB_KIND, total=1)
        session.add(job)
        session.flush()
        pick = GooglePick(
            owner_id=owner_id,
            job_id=job.id,
            google_session_id=started.id,
            picker_uri=started.picker_uri,
            poll_seconds=started.poll_seconds,
            next_poll_at=utcnow(),
            expires_at=utcnow() + timedelta(seconds=timeout),
        )
        session.add(pick)
        session.flush()
        assert pick.id is not None
        enqueue_job(session, IMPORT_PICK, pick_id=pick.id)
    return StartedPick(pick, notice)


def close_stale_sessions(ctx: AppContext, owner_id: int, client: PickerClient) -> int:
    """Delete at Google the sessions this person still holds open: finished picks whose
    deletion failed, and picks still waiting (cancelled: a newer one replaces them). A waiting
    pick is cancelled before its session goes, so its poll never mistakes the deletion for
    Google losing the session."""
    with ctx.session(write=True) as session:
        picks = session.exec(
            select(GooglePick).where(
                GooglePick.owner_id == owner_id,
                col(GooglePick.session_open).is_(True),
                GooglePick.state != PickState.IMPORTING,
            )
        ).all()
        for row in picks:
            if row.state == PickState.WAITING:
                _finish(session, row, PickState.FAILED, "cancelled: a newer pick replaced it")
    closed = 0
    for pick in picks:
        try:
            client.delete_session(pick.google_session_id)
        except GoogleBusy:
            continue
        closed += 1
        with ctx.session(write=True) as session:
            done_with = session.get(GooglePick, pick.id)
            if done_with is not None:
                done_with.session_open = False
                session.add(done_with)
    return closed


def import_pick(ctx: AppContext, pick_id: int) -> None:
    """The task: one poll of a waiting pick, or the import of a picked one (idempotent)."""
    with ctx.session() as session:
        pick = session.get(GooglePick, pick_id)
    if pick is None or pick.state not in PICK_OPEN:
        return
    try:
        with picker_for(ctx, pick.owner_id) as client:
            if pick.state == PickState.WAITING:
                if not _poll(ctx, pick, client):
                    return
            _import(ctx, pick, client)
    except (ReconnectNeeded, NotConnected) as exc:
        _end(ctx, pick_id, PickState.FAILED, exc.message)
    except SessionGone:
        _end(ctx, pick_id, PickState.FAILED, GONE)
    except GoogleBusy as exc:
        log.warning("pick %d: %s; trying again in %.0f s", pick_id, exc, BUSY_RETRY)
        _note(ctx, pick_id, f"{exc}; trying again shortly")
        ctx.jobs.enqueue_later(BUSY_RETRY, IMPORT_PICK, pick_id=pick_id)


def _poll(ctx: AppContext, pick: GooglePick, client: PickerClient) -> bool:
    """Whether the person has finished picking; otherwise the next poll is scheduled (or the
    pick expires)."""
    assert pick.id is not None
    now = utcnow()
    if pick.next_poll_at is not None and now < pick.next_poll_at - timedelta(
        seconds=pick.poll_seconds / 2
    ):
        return False  # a duplicate message: the scheduled poll is still to come
    if now >= pick.expires_at:
        _expire(ctx, pick, client)
        return False
    state: PickerSession = client.get_session(pick.google_session_id)
    if state.media_items_set:
        with ctx.session(write=True) as session:
            row = session.get(GooglePick, pick.id)
            if row is None or row.state != PickState.WAITING:
                return False
            row.state, row.updated_at, row.error = PickState.IMPORTING, utcnow(), None
            session.add(row)
        pick.state = PickState.IMPORTING
        return True
    delay = min(state.poll_seconds, max(0.05, (pick.expires_at - now).total_seconds()))
    with ctx.session(write=True) as session:
        row = session.get(GooglePick, pick.id)
        if row is None or row.state != PickState.WAITING:
            return False
        row.poll_seconds = state.poll_seconds
        if state.timeout_seconds is not None:
            row.expires_at = min(row.expires_at, now + timedelta(seconds=state.timeout_seconds))
        row.next_poll_at = now + timedelta(seconds=delay)
        row.updated_at = now
        session.add(row)
    ctx.jobs.enqueue_later(delay, IMPORT_PICK, pick_id=pick.id)
    return False


def _expire(ctx: AppContext, pick: GooglePick, client: PickerClient) -> None:
    try:
        client.delete_session(pick.google_session_id)
        deleted = True
    except GoogleBusy:
        deleted = False  # closed with the stale ones at the next RESOURCE_EXHAUSTED
    with ctx.session(write=True) as session:
        row = session.get(GooglePick, pick.id)
        if row is not None and row.state == PickState.WAITING:
            row.session_open = not deleted
            _finish(session, row, PickState.EXPIRED, EXPIRED)


def _import(ctx: AppContext, pick: GooglePick, client: PickerClient) -> None:
    assert pick.id is not None
    try:
        items = list(client.media_items(pick.google_session_id))
    except PickingUnfinished:
        # Google says picking is not over after all: back to polling.
        with ctx.session(write=True) as session:
            row = session.get(GooglePick, pick.id)
            if row is not None and row.state == PickState.IMPORTING:
                row.state, row.next_poll_at = PickState.WAITING, utcnow()
                session.add(row)
        ctx.jobs.enqueue_later(pick.poll_seconds, IMPORT_PICK, pick_id=pick.id)
        return
    importer = _Importer(ctx, pick, client, items)
    importer.run()
    try:
        client.delete_session(pick.google_session_id)
        deleted = True
    except GoogleBusy:
        deleted = False
    with ctx.session(write=True) as session:
        row = session.get(GooglePick, pick.id)
        if row is None or row.state != PickState.IMPORTING:
            return
        importer.write_counts(session, row)
        row.session_open = not deleted
        _finish(session, row, PickState.DONE, None)


class _Importer:
    def __init__(
        self, ctx: AppContext, pick: GooglePick, client: PickerClient, items: list[MediaItem]
    ) -> None:
        assert pick.id is not None
        self.ctx, self.pick, self.client = ctx, pick, client
        self.pick_id: int = pick.id
        self.owner_id = pick.owner_id
        self.items = items
        self.base_urls = {i.id: i.base_url for i in items}
        self.relisted = False
        self.already = 0
        self.problems: list[dict[str, Any]] = list(pick.problems)
        self.new_problems: list[dict[str, Any]] = []

    def run(self) -> None:
        known_problems = {p["id"] for p in self.problems}
        videos = [i for i in self.items if not i.is_photo and i.id not in known_problems]
        for item in videos:
            self._problem(item, VIDEO, "skipped")
        if videos:
            self._commit_problems()
        photos = [i for i in self.items if i.is_photo and i.id not in known_problems]
        present = self._present({i.id for i in photos})
        for item in photos:
            job_of = present.get(item.id, -1)
            if job_of != -1:
                if job_of != self.pick.job_id:
                    self.already += 1
                continue
            self._one(item)

    def _present(self, ids: set[str]) -> dict[str, int | None]:
        """Source id -> job of the person's images already imported from these items."""
        found: dict[str, int | None] = {}
        chunk = sorted(ids)
        with self.ctx.session() as session:
            for start in range(0, len(chunk), 500):
                rows = session.exec(
                    select(Image.source_id, Image.job_id).where(
                        Image.owner_id == self.owner_id,
                        Image.source == IngestionMode.API,
                        col(Image.source_id).in_(chunk[start : start + 500]),
                    )
                ).all()
                found.update({sid: job for sid, job in rows if sid is not None})
        return found

    def _fetch(self, item: MediaItem) -> bytes | None:
        url = self.base_urls.get(item.id, item.base_url)
        try:
            return self.client.download(_with_url(item, url))
        except BytesGone:
            if not self.relisted:
                # baseUrls last 60 minutes: list the items again for fresh ones (once per run).
                self.relisted = True
                fresh = list(self.client.media_items(self.pick.google_session_id))
                self.base_urls.update({i.id: i.base_url for i in fresh})
                try:
                    return self.client.download(_with_url(item, self.base_urls[item.id]))
                except (BytesGone, KeyError):
                    pass
            raise

    def _one(self, item: MediaItem) -> None:
        try:
            name = checked_filename(item.filename or f"{item.id}.jpg")
        except ImageRejected:
            name = f"{item.id}.jpg"
        try:
            data = self._fetch(item)
        except BytesGone:
            self._fail(item, "Google would not hand over this photo (its link expired)")
            return
        except UntrustedAddress:
            self._fail(item, "Google gave an address outside its own servers for this photo")
            return
        limits = self.ctx.settings.decode_limits
        try:
            if data is None:
                raise ImageRejected(
                    f"the file is over the limit of {limits.max_bytes / 2**20:.1f} MiB"
                )
            probe(data, name, limits)
        except ImageRejected as exc:
            self._fail(item, exc.reason)
            return
        sha = sha256_hex(data)
        key = content_key(self.owner_id, sha)
        self.ctx.store.put(key, data)
        try:
            with self.ctx.session(write=True) as session:
                image = Image(
                    owner_id=self.owner_id,
                    source=IngestionMode.API,
                    source_id=item.id,
                    job_id=self.pick.job_id,
                    filename=name,
                    storage_key=key,
                    content_sha256=sha,
                    size_bytes=len(data),
                    # What Google says; EXIF read by the extract task wins where it has a value.
                    taken_at=item.create_time.replace(tzinfo=None) if item.create_time else None,
                    camera_make=(item.camera_make or "")[:120] or None,
                    camera_model=(item.camera_model or "")[:120] or None,
                )
                session.add(image)
                session.flush()
                assert image.id is not None
                self._grow_job(session)
                send_next(session, image.state, image.id, self.owner_id)
                row = session.get(GooglePick, self.pick_id)
                if row is not None:
                    self.write_counts(session, row)
        except sa.exc.IntegrityError:
            # Imported meanwhile by another run of this task (a redelivered message).
            log.info("pick %d: item already imported by another run", self.pick_id)

    def _grow_job(self, session: Session, failed: int = 0) -> None:
        if self.pick.job_id is None:
            return
        session.execute(
            sa.update(Job)
            .where(col(Job.id) == self.pick.job_id)
            .values(
                total=col(Job.total) + 1,
                failed=col(Job.failed) + failed,
                state=JobState.RUNNING,
                updated_at=utcnow(),
            )
        )

    def _problem(self, item: MediaItem, reason: str, kind: str) -> None:
        name = shown_name(item.filename)  # shown back to the person: no disguise
        entry = {"id": item.id, "filename": name, "reason": reason, "kind": kind}
        self.problems.append(entry)
        self.new_problems.append(entry)

    def _fail(self, item: MediaItem, reason: str) -> None:
        self._problem(item, reason, "failed")
        with self.ctx.session(write=True) as session:
            self._grow_job(session, failed=1)
            row = session.get(GooglePick, self.pick_id)
            if row is not None:
                self.write_counts(session, row)
        self.new_problems.clear()

    def _commit_problems(self) -> None:
        with self.ctx.session(write=True) as session:
            row = session.get(GooglePick, self.pick_id)
            if row is not None:
                self.write_counts(session, row)
        self.new_problems.clear()

    def write_counts(self, session: Session, row: GooglePick) -> None:
        """The pick's counters, recomputed (so a resumed run cannot count anything twice)."""
        imported = (
            session.exec(
                select(func.count())
                .select_from(Image)
                .where(Image.job_id == self.pick.job_id, Image.source == IngestionMode.API)
            ).one()
            if self.pick.job_id is not None
            else 0
        )
        row.picked = len(self.items)
        row.imported = int(imported)
        row.already_present = self.already
        row.problems = list(self.problems)
        row.skipped = sum(1 for p in self.problems if p["kind"] == "skipped")
        row.failed = sum(1 for p in self.problems if p["kind"] == "failed")
        row.updated_at = utcnow()
        session.add(row)


def _with_url(item: MediaItem, url: str) -> MediaItem:
    return MediaItem(
        id=item.id,
        type=item.type,
        base_url=url,
        mime_type=item.mime_type,
        filename=item.filename,
        create_time=item.create_time,
        camera_make=item.camera_make,
        camera_model=item.camera_model,
    )


def _finish(session: Session, row: GooglePick, state: PickState, error: str | None) -> None:
    """End the pick and its job (the pick's own step is done, or the job failed)."""
    row.state, row.error = state, error
    row.finished_at = row.updated_at = utcnow()
    session.add(row)
    session.flush()
    if row.job_id is None:
        return
    if state == PickState.DONE:
        count_progress(session, done=[row.job_id], failed=[])
        return
    # The pick's own step will never be done: the job waits for its photos only (those already
    # imported stay and are analysed), and failed if it has nothing left to wait for.
    session.execute(
        sa.update(Job)
        .where(col(Job.id) == row.job_id, col(Job.state).in_([JobState.QUEUED, JobState.RUNNING]))
        .values(total=col(Job.total) - 1, updated_at=utcnow())
    )
    session.flush()
    job = session.get(Job, row.job_id)
    if job is not None:
        session.refresh(job)
        if job.state in (JobState.QUEUED, JobState.RUNNING) and job.done + job.failed >= job.total:
            job.state, job.finished_at = JobState.FAILED, utcnow()
            session.add(job)


def _end(ctx: AppContext, pick_id: int, state: PickState, error: str) -> None:
    with ctx.session(write=True) as session:
        row = session.get(GooglePick, pick_id)
        if row is not None and row.state in PICK_OPEN:
            _finish(session, row, state, error)


def _note(ctx: AppContext, pick_id: int, error: str) -> None:
    with ctx.session(write=True) as session:
        row = session.get(GooglePick, pick_id)
        if row is not None and row.state in PICK_OPEN:
            row.error, row.updated_at = error, utcnow()
            session.add(row)


def resume_picks(ctx: AppContext, stale_after: float | None = None) -> int:
    """Re-send the picks still open (after a restart; with ``stale_after``, only those that
    have not moved for that long: their message was lost)."""
    with Session(ctx.engine) as session:
        stmt = select(GooglePick.id).where(col(GooglePick.state).in_(PICK_OPEN))
        if stale_after is not None:
            stmt = stmt.where(
                col(GooglePick.updated_at) < utcnow() - timedelta(seconds=stale_after)
            )
        ids = session.exec(stmt).all()
    for pick_id in ids:
        ctx.jobs.enqueue(IMPORT_PICK, pick_id=pick_id)
    return len(ids)


def give_up_on_pick(ctx: AppContext, error: BaseException, pick_id: int) -> None:
    """Retries ran out (the database or the disk kept failing): say so on the pick."""
    _end(ctx, pick_id, PickState.FAILED, f"the import stopped: {type(error).__name__}; pick again")
