"""Use case: import a Google Takeout export (one or several .zip / .tgz parts given together).

Two passes over the parts, members read as streams (never extracted to disk):

1. every member is listed and checked (a hostile archive is refused here, before anything is
   written) and the JSON sidecars are read;
2. the photos are read one at a time, stored once by content, and become TAKEOUT images with
   what their sidecar says (taken time, place, caption, link back, albums), committed in
   batches, their analysis queued after each commit.

An item Google exports in its year folder and again in each of its albums is one image with
its album names. Its identity (``source_id``) is the sidecar's link back to Google Photos, or
without one the sha-256 of its bytes, so importing the same export again creates nothing new.

The job's ``total`` counts the reading of the archive as one unit of work, done when the reading
ends, plus one per new image; so it is never complete while photos are still being read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.config import Settings
from backend.core.decode import IMAGE_EXTENSIONS, VIDEO_REASON, DecodeLimits, is_video_name, probe
from backend.core.features import sha256_hex
from backend.core.filenames import checked_filename, shown_name
from backend.core.rejected import ImageRejected
from backend.core.takeout import (
    Sidecar,
    album_title,
    index_sidecars,
    is_item_sidecar,
    is_photos_folder,
    is_year_folder,
    match_sidecar,
    media_name,
    nfc,
    parse_sidecar,
    split_ext,
)
from backend.models import Image, IngestionMode, Job, JobState, User, utcnow
from backend.services.context import AppContext
from backend.services.ingestion.archive import (
    ArchiveLimits,
    ArchiveRejected,
    Entry,
    Member,
    archive_kind,
    walk,
)
from backend.services.job_queue import enqueue_job
from backend.services.jobs import count_progress
from backend.services.pipeline import send_next
from backend.services.storage.blobstore import content_key
from backend.services.users import normalise_email

log = logging.getLogger(__name__)

TAKEOUT_KIND = "takeout"
HEARTBEAT_SECONDS = 20.0  # a running import touches its job this often (see the sweep)
ABANDONED_AFTER_SECONDS = 24 * 3600
JSON_LIMIT = 4 * 1024 * 1024  # a sidecar is a few hundred bytes; an album's list a few MiB
BATCH = 200
MAX_SKIPPED_SHOWN = 1000
ARCHIVE_EXTENSIONS = frozenset(
    {".zip", ".tgz", ".gz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".tbz2", ".txz"}
)
NESTED_REASON = "an archive inside the archive is not opened; import it on its own"
TRASHED_REASON = "in the trash in Google Photos (set DUPFINDER_TAKEOUT_INCLUDE_TRASHED to import)"
NOT_A_PHOTO = "not a photo we read"
# Folders of a Google Photos export that are not albums (in the languages seen in exports).
NOT_ALBUMS = frozenset(
    {
        "trash",
        "bin",
        "papierkorb",
        "corbeille",
        "papelera",
        "cestino",
        "prullenbak",
        "lixeira",
        "archive",
        "archiv",
        "archives",
        "archivo",
        "archivio",
        "failed videos",
        "untitled",
    }
)

# Called with (what is happening, done, total); total 0 while unknown.
Progress = Callable[[str, int, int], None]


@dataclass
class TakeoutReport:
    job_id: int
    photos: int = 0  # distinct photos found (after merging album copies)
    new: int = 0
    known: int = 0  # imported before: their albums brought up to date, nothing else
    ignored: int = 0  # files outside the Google Photos folders (other Google products)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None  # the whole import refused (a hostile or damaged archive)

    def summary(self) -> str:
        if self.error:
            return f"nothing was imported: {self.error}"
        text = f"{self.photos} photo(s): {self.new} new, {self.known} imported before"
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped"
        if self.ignored:
            text += f"; {self.ignored} file(s) outside Google Photos ignored"
        return text


@dataclass
class _Item:
    """One Google item, wherever it appears in the export."""

    key: str | None  # source id; None until its bytes are read (no link back)
    member: Member
    filename: str
    sidecar: Sidecar
    albums: list[str] = field(default_factory=list)


def settings_limits(ctx: AppContext) -> ArchiveLimits:
    s = ctx.settings
    return ArchiveLimits(
        max_members=s.takeout_max_members,
        max_unpacked_bytes=s.takeout_max_unpacked_bytes,
        max_ratio=s.takeout_max_ratio,
    )


def check_archives(paths: list[Path], limits: ArchiveLimits, shown: list[str]) -> None:
    """What can be checked cheaply (a zip's directory: names, links, sizes, ratios); raises
    ArchiveRejected. A compressed tar is checked as the import reads it."""
    zips = [(p, n) for p, n in zip(paths, shown, strict=True) if archive_kind(p, n) == "zip"]
    for _ in walk([p for p, _ in zips], limits, lambda _m: None, [n for _, n in zips]):
        pass


def _album_of(folder: str, name: str, titles: dict[str, str]) -> str | None:
    if folder in titles:
        return titles[folder]
    if is_year_folder(name) or name.strip().casefold() in NOT_ALBUMS:
        return None
    return name


def _source_key(url: str, edited: str) -> str:
    key = url + (f"#{edited.lstrip('- ')}" if edited else "")
    if len(key) > 1000:
        key = "url-sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _display(member: Member) -> str:
    return member.name


def _filename(member: Member, sidecar: Sidecar, edited: str) -> str:
    base = posixpath.basename(member.name)
    # Google clips long names in the archive; the sidecar's title keeps the whole name.
    title, (stem, ext) = sidecar.title, split_ext(base)
    if (
        title
        and not edited
        and len(base) >= 40
        and split_ext(title)[1].lower() == ext.lower()
        and len(split_ext(title)[0]) > len(stem)
        and split_ext(title)[0].startswith(stem)
    ):
        base = title
    try:
        return checked_filename(base)
    except ImageRejected:
        try:
            return checked_filename(posixpath.basename(member.name))
        except ImageRejected:
            return "photo" + split_ext(base)[1][:10]


class _Plan:
    """Pass 1: what the export holds."""

    def __init__(self) -> None:
        self.members: list[Member] = []
        # (folder, file name) -> a photo's sidecar, or an album's title (what JSON files
        # say, kept small: a library has as many sidecars as photos).
        self.sidecars: dict[tuple[str, str], Sidecar] = {}
        self.titles: dict[str, str] = {}  # folder -> album title


def _read_plan(
    paths: list[Path], shown: list[str] | None, limits: ArchiveLimits, progress: Progress | None
) -> _Plan:
    plan = _Plan()

    def wanted(member: Member) -> int | None:
        return JSON_LIMIT if member.name.lower().endswith(".json") else None

    for n, entry in enumerate(walk(paths, limits, wanted, shown), 1):
        plan.members.append(entry.member)
        if entry.data is not None:
            try:
                parsed = json.loads(entry.data)
            except (ValueError, UnicodeDecodeError):
                parsed = None
            folder, name = posixpath.split(entry.member.name)
            folder, name = nfc(folder), nfc(name)
            if is_item_sidecar(parsed):
                plan.sidecars[(folder, name)] = parse_sidecar(parsed)
            elif title := album_title(parsed):
                plan.titles[folder] = title
        if progress:
            progress("reading the archive", n, 0)
    return plan


def _photos_root(members: list[Member]) -> set[str]:
    """The "Takeout/Google Photos" folders (any language); empty: the whole archive is photos."""
    roots: set[str] = set()
    for member in members:
        parts = member.name.split("/")
        for i, part in enumerate(parts[:-1]):
            if is_photos_folder(part):
                roots.add("/".join(parts[: i + 1]))
                break
    return roots


def _organise(
    plan: _Plan, include_trashed: bool, report: TakeoutReport
) -> tuple[dict[str, _Item], list[_Item]]:
    """Pass 1's result: items keyed by their link back (album copies merged), and the items
    without one (merged by their bytes in pass 2)."""
    roots = _photos_root(plan.members)
    titles = plan.titles
    sidecar_names: dict[str, list[str]] = {}
    for folder, name in plan.sidecars:
        sidecar_names.setdefault(folder, []).append(name)
    indexes = {folder: index_sidecars(names) for folder, names in sidecar_names.items()}
    by_key: dict[str, _Item] = {}
    unkeyed: list[_Item] = []
    for member in plan.members:
        folder, name = posixpath.split(member.name)
        folder, name = nfc(folder), nfc(name)
        if name.lower().endswith(".json"):
            continue
        root = next((r for r in roots if folder == r or folder.startswith(r + "/")), None)
        if roots and root is None:
            report.ignored += 1
            continue
        ext = split_ext(name)[1].lower()
        if is_video_name(name):
            report.skipped.append((_display(member), VIDEO_REASON))
            continue
        if ext in ARCHIVE_EXTENSIONS:
            report.skipped.append((_display(member), NESTED_REASON))
            continue
        if ext not in IMAGE_EXTENSIONS:
            if name not in ("archive_browser.html", "print-subscriptions.json"):
                report.skipped.append((_display(member), NOT_A_PHOTO))
            continue
        found = match_sidecar(name, indexes.get(folder, {}))
        sidecar = plan.sidecars.get((folder, found), Sidecar()) if found else Sidecar()
        if sidecar.trashed and not include_trashed:
            report.skipped.append((_display(member), TRASHED_REASON))
            continue
        relative = folder[len(root) :].strip("/") if root else folder
        album = _album_of(folder, relative.split("/")[-1], titles) if relative else None
        edited = media_name(name).edited
        item = _Item(None, member, _filename(member, sidecar, edited), sidecar)
        if album:
            item.albums.append(album)
        if sidecar.url:
            item.key = _source_key(sidecar.url, edited)
            first = by_key.get(item.key)
            if first is None:
                by_key[item.key] = item
            elif album and album not in first.albums:
                first.albums.append(album)
        else:
            unkeyed.append(item)
    return by_key, unkeyed


def _existing(session: Session, owner_id: int, keys: Iterable[str]) -> dict[str, Image]:
    keys = list(keys)
    found: dict[str, Image] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for image in session.exec(
            select(Image).where(
                Image.owner_id == owner_id,
                Image.source == IngestionMode.TAKEOUT,
                col(Image.source_id).in_(chunk),
            )
        ):
            assert image.source_id is not None
            found[image.source_id] = image
    return found


def _known_keys(ctx: AppContext, owner_id: int) -> set[str]:
    with Session(ctx.engine) as session:
        return {
            k
            for k in session.exec(
                select(Image.source_id).where(
                    Image.owner_id == owner_id, Image.source == IngestionMode.TAKEOUT
                )
            )
            if k is not None
        }


@dataclass
class _Ready:
    item: _Item
    sha: str
    size: int


def _flush(ctx: AppContext, job_id: int, owner_id: int, ready: list[_Ready]) -> int:
    """Insert the new images of a batch (one transaction); their analysis is sent on commit."""
    if not ready:
        return 0
    with ctx.session(write=True) as session:
        present = _existing(session, owner_id, [r.item.key for r in ready if r.item.key])
        images: list[Image] = []
        for r in ready:
            if r.item.key in present:
                continue  # another import of the same export got there first
            s = r.item.sidecar
            images.append(
                Image(
                    owner_id=owner_id,
                    source=IngestionMode.TAKEOUT,
                    source_id=r.item.key,
                    job_id=job_id,
                    filename=r.item.filename,
                    storage_key=content_key(owner_id, r.sha),
                    content_sha256=r.sha,
                    size_bytes=r.size,
                    taken_at=s.taken_at,
                    source_url=s.url,
                    albums=list(r.item.albums),
                    description=s.description,
                    latitude=s.latitude,
                    longitude=s.longitude,
                )
            )
        job = session.get(Job, job_id, with_for_update=True)
        assert job is not None
        job.total += len(images)
        job.state = JobState.RUNNING
        job.updated_at = utcnow()
        session.add(job)
        session.add_all(images)
        session.flush()
        for image in images:
            assert image.id is not None
            send_next(session, image.state, image.id, owner_id)
    return len(images)


def _update_albums(ctx: AppContext, owner_id: int, items: dict[str, list[str]]) -> None:
    """Album names found for items stored earlier (by an earlier import, or an earlier batch)."""
    keys = list(items)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        with ctx.session(write=True) as session:
            for key, image in _existing(session, owner_id, chunk).items():
                merged = list(image.albums or [])
                merged += [a for a in items[key] if a not in merged]
                if merged != list(image.albums or []):
                    image.albums = merged
                    session.add(image)


def _finish(ctx: AppContext, job_id: int, report: TakeoutReport) -> None:
    with ctx.session(write=True) as session:
        job = session.get(Job, job_id, with_for_update=True)
        assert job is not None
        job.message = report.summary()[:2000]
        job.skipped = [
            {"name": shown_name(name)[:1024], "reason": reason} for name, reason in report.skipped
        ][:MAX_SKIPPED_SHOWN]
        session.add(job)
        if report.error:
            count_progress(session, done=[], failed=[job_id])
            job.state = JobState.FAILED
            job.finished_at = job.updated_at = utcnow()
            session.add(job)
        else:
            count_progress(session, done=[job_id], failed=[])


def job_for_person(ctx: AppContext, email: str) -> int | None:
    """A new import job for the person with this email (``dupfinder import-takeout``); None
    when nobody has it."""
    with ctx.session(write=True) as session:
        user = session.exec(select(User).where(User.email == normalise_email(email))).first()
        if user is None or user.id is None or not user.is_active:
            return None
        job = new_takeout_job(session, user.id)
        assert job.id is not None
        return job.id


def job_progress(ctx: AppContext, job_id: int) -> tuple[int, int]:
    """(finished, total) images of the job, the reading of the archive not counted."""
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            return 0, 0
        return max(0, job.done + job.failed - 1), max(0, job.total - 1)


def _with_heartbeat(ctx: AppContext, job_id: int, progress: Progress | None) -> Progress:
    """The caller's progress, and the job's ``updated_at`` touched now and then, so that the
    sweep for stalled work does not take a long read for a lost one."""
    last = [time.monotonic()]

    def report(what: str, done: int, total: int) -> None:
        if progress is not None:
            progress(what, done, total)
        if time.monotonic() - last[0] >= HEARTBEAT_SECONDS:
            last[0] = time.monotonic()
            with ctx.session(write=True) as session:
                session.execute(
                    sa.update(Job).where(col(Job.id) == job_id).values(updated_at=utcnow())
                )

    return report


def new_takeout_job(session: Session, owner_id: int) -> Job:
    """A job for an import; its one unit of work until the archive is read is the reading."""
    job = Job(owner_id=owner_id, kind=TAKEOUT_KIND, total=1)
    session.add(job)
    session.flush()
    return job


def import_takeout(
    ctx: AppContext,
    job_id: int,
    paths: list[Path],
    progress: Progress | None = None,
    shown: list[str] | None = None,
) -> TakeoutReport:
    """Import the parts of one export for the job's owner; a refused archive is recorded on
    the job (and in the report), with nothing stored. ``shown``: the parts' names for
    messages (the names they were uploaded with)."""
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        owner_id = job.owner_id
    report = TakeoutReport(job_id)
    limits = settings_limits(ctx)
    progress = _with_heartbeat(ctx, job_id, progress)
    try:
        plan = _read_plan(paths, shown, limits, progress)
    except ArchiveRejected as exc:
        report.error = exc.reason
        _finish(ctx, job_id, report)
        return report
    by_key, unkeyed = _organise(plan, ctx.settings.takeout_include_trashed, report)
    del plan
    known = _known_keys(ctx, owner_id)
    report.known = sum(1 for k in by_key if k in known)
    to_read: dict[tuple[int, str], _Item] = {
        (i.member.part, i.member.name): i for k, i in by_key.items() if k not in known
    }
    to_read.update({(i.member.part, i.member.name): i for i in unkeyed})
    decode_limits = ctx.settings.decode_limits
    max_bytes = decode_limits.max_bytes
    total = len(to_read)

    def wanted(member: Member) -> int | None:
        return max_bytes if (member.part, member.name) in to_read else None

    albums: dict[str, list[str]] = {k: list(i.albums) for k, i in by_key.items() if i.albums}
    seen_sha: set[str] = set()
    batch: list[_Ready] = []
    done = 0
    try:
        for entry in walk(paths, limits, wanted, shown):
            item = to_read.get((entry.member.part, entry.member.name))
            done += item is not None
            progress("importing photos", done, total)  # for every member: the heartbeat
            if item is None:
                continue
            ready = _take(entry, item, decode_limits, report)
            if ready is None:
                continue
            if item.key is None:  # no link back: the bytes say which item it is
                item.key = "sha256:" + ready.sha
                names = albums.setdefault(item.key, [])
                names += [a for a in item.albums if a not in names]
                if item.key in seen_sha:
                    continue  # another copy (an album's) of an item met before
                seen_sha.add(item.key)
                if item.key in known:
                    report.known += 1
                    continue
            ctx.store.put(content_key(owner_id, ready.sha), entry.data or b"")
            batch.append(ready)
            if len(batch) >= BATCH:
                report.new += _flush(ctx, job_id, owner_id, batch)
                batch = []
        report.new += _flush(ctx, job_id, owner_id, batch)
    except ArchiveRejected as exc:  # changed between the passes: keep what is stored
        report.error = exc.reason
    report.photos = report.new + report.known
    _update_albums(ctx, owner_id, {k: v for k, v in albums.items() if v})
    _finish(ctx, job_id, report)
    return report


def _take(entry: Entry, item: _Item, limits: DecodeLimits, report: TakeoutReport) -> _Ready | None:
    shown = _display(entry.member)
    if entry.data is None:
        report.skipped.append((shown, entry.problem or "the file could not be read"))
        return None
    try:
        probe(entry.data, item.filename, limits)
    except ImageRejected as exc:
        report.skipped.append((shown, exc.reason))
        return None
    return _Ready(item, sha256_hex(entry.data), len(entry.data))


# The background task (queue "ingest"): the archives a request stored for the job, by job id.
TAKEOUT_IMPORT = "takeout.import"
NAMES_FILE = "names.json"  # the names the parts were uploaded with, in order


def job_folder(ctx: AppContext, job_id: int) -> Path:
    return ctx.settings.takeout_folder / str(job_id)  # as queue_takeout named it


def queue_takeout(session: Session, settings: Settings, owner_id: int, staged: Path) -> Job:
    """A job for the archives in ``staged`` (moved to the job's own folder); the import task
    is sent when ``session`` commits."""
    job = new_takeout_job(session, owner_id)
    assert job.id is not None
    target = settings.takeout_folder / str(job.id)
    staged.rename(target)  # the same parent folder: atomic
    enqueue_job(session, TAKEOUT_IMPORT, job_id=job.id)
    return job


def run_takeout_import(ctx: AppContext, job_id: int) -> None:
    """Idempotent: a job whose archive was read already (a message recorded) is left as it is;
    a run that died half-way reads the archive again and adds only what is missing."""
    folder = job_folder(ctx, job_id)
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        finished = job is None or job.message is not None
    if finished:
        shutil.rmtree(folder, ignore_errors=True)
        return
    paths = sorted(p for p in folder.glob("part-*") if p.is_file()) if folder.is_dir() else []
    if not paths:
        _finish(ctx, job_id, TakeoutReport(job_id, error="the uploaded archive is gone"))
        return
    try:
        shown = json.loads((folder / NAMES_FILE).read_text())
    except (OSError, ValueError):
        shown = None
    report = import_takeout(ctx, job_id, paths, shown=shown if isinstance(shown, list) else None)
    log.info("takeout import of job %s: %s", job_id, report.summary())
    shutil.rmtree(folder, ignore_errors=True)


def resume_takeout_imports(ctx: AppContext, stale_after: float | None = None) -> int:
    """Re-send the import of uploaded archives not read yet (a lost message, a crash); with
    ``stale_after`` (seconds) only for jobs that have not moved for that long (a running
    import touches its job every ``HEARTBEAT_SECONDS``). An import run by the command line
    has no uploaded folder and is never re-sent. Returns how many were sent."""
    stmt = select(Job.id).where(
        Job.kind == TAKEOUT_KIND,
        col(Job.message).is_(None),
        col(Job.state).in_([JobState.QUEUED, JobState.RUNNING]),
    )
    if stale_after is not None:
        stmt = stmt.where(col(Job.updated_at) < utcnow() - timedelta(seconds=stale_after))
    with Session(ctx.engine) as session:
        ids = list(session.exec(stmt))
    sent = 0
    for job_id in ids:
        if job_id is not None and job_folder(ctx, job_id).is_dir():
            ctx.jobs.enqueue(TAKEOUT_IMPORT, job_id=job_id)
            sent += 1
    _forget_abandoned_uploads(ctx.settings.takeout_folder)
    return sent


def _forget_abandoned_uploads(folder: Path) -> None:
    """Uploads cut off half-way (the connection dropped, the process died) leave a staging
    folder that nothing will read: gone after a day (another API instance of a cluster may
    be receiving one right now)."""
    if not folder.is_dir():
        return
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for staged in folder.glob(".incoming-*"):
        try:
            if staged.stat().st_mtime < cutoff:
                shutil.rmtree(staged, ignore_errors=True)
        except OSError:
            continue


def abandon_takeout(ctx: AppContext, job_id: int, reason: str) -> None:
    """End a job whose import will not go on (interrupted, given up); what it stored stays."""
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        finished = job is None or job.message is not None
    if not finished:
        _finish(ctx, job_id, TakeoutReport(job_id, error=reason))


def give_up_on_takeout(ctx: AppContext, error: BaseException, job_id: int) -> None:
    reason = f"the import failed ({type(error).__name__}); upload the archive again"
    abandon_takeout(ctx, job_id, reason)
    shutil.rmtree(job_folder(ctx, job_id), ignore_errors=True)
