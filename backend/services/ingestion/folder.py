"""Use case: register a folder's files in place for a scan; unchanged files keep their features."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from backend.core.filenames import shown_name
from backend.models import Image, ImageState, IngestionMode, Job, JobState, User, utcnow
from backend.services.grouping.marks import mark_neighbours
from backend.services.jobs import release_from_job
from backend.services.pipeline import send_next
from backend.services.storage.blobstore import file_key


@dataclass
class FolderBatch:
    owner_id: int
    job: Job
    images: dict[int, str]  # image id -> path relative to the root
    pending: list[int]
    stale_thumbnails: list[str]  # of files changed or gone: delete once committed


def walk(root: Path, exclude: tuple[Path, ...] = ()) -> list[tuple[Path, str]]:
    """Every regular file below ``root``, sorted; not hidden files or folders (".ssh", ".git",
    ".thumbnails"), not symbolic links, and nothing under ``exclude`` (our own data folder)."""
    excluded = {p.resolve() for p in exclude}
    found: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(filenames):
            path = here / name
            if name.startswith(".") or not path.is_file() or path.is_symlink():
                continue
            found.append((path, path.relative_to(root).as_posix()))
    return found


def display_name(name: str) -> str:
    """Text for a file name that may not be valid UTF-8 (bytes from an old system's encoding),
    with control and text-direction characters shown as U+FFFD (the file keeps its name)."""
    return shown_name(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def folder_owner(session: Session, root: Path) -> User:
    """Each scanned folder is its own library, owned by a local account that cannot sign in."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    email = f"folder-{digest}@scan.local"
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        # Inactive: it is no person, and no token may ever act as it.
        user = User(email=email, name=f"scan of {root}"[:200], hashed_password="!", is_active=False)
        session.add(user)
        session.flush()
    return user


def register_folder(session: Session, root: Path, exclude: tuple[Path, ...] = ()) -> FolderBatch:
    """Rows for new and changed files, and their analysis queued in ``session`` (sent when the
    caller commits)."""
    root = root.resolve()
    owner = folder_owner(session, root)
    assert owner.id is not None
    known = {
        i.source_id: i
        for i in session.exec(
            select(Image).where(Image.owner_id == owner.id, Image.source == IngestionMode.FOLDER)
        )
    }
    job = Job(owner_id=owner.id, kind="scan")
    session.add(job)
    session.flush()
    seen: dict[int, str] = {}
    pending: list[Image] = []
    pending_rel: list[str] = []
    stale: list[str] = []
    for path, rel in walk(root, exclude):
        stat = path.stat()
        version = f"{stat.st_size}:{stat.st_mtime_ns}"
        source_id = file_key(path)
        image = known.pop(source_id, None)
        if image is not None and image.source_version == version:
            assert image.id is not None
            seen[image.id] = rel
            if image.state == ImageState.PENDING:  # an earlier scan stopped before analysing it
                release_from_job(session, image)
                image.job_id = job.id
                pending.append(image)
                pending_rel.append(rel)
            continue
        if image is not None:  # changed since the last scan: analyse it afresh
            stale.extend([image.thumbnail_key] if image.thumbnail_key else [])
            assert image.id is not None
            mark_neighbours(session, owner.id, [image.id])
            release_from_job(session, image)
            session.delete(image)
            session.flush()
        image = Image(
            owner_id=owner.id,
            source=IngestionMode.FOLDER,
            source_id=source_id,
            filename=display_name(path.name)[-255:],
            storage_key=source_id,
        )
        image.source_version = version
        image.size_bytes = stat.st_size
        image.job_id = job.id
        image.state = ImageState.PENDING
        session.add(image)
        pending.append(image)
        pending_rel.append(rel)
    mark_neighbours(session, owner.id, [i.id for i in known.values() if i.id is not None])
    for gone in known.values():  # deleted from disk since the last scan
        stale.extend([gone.thumbnail_key] if gone.thumbnail_key else [])
        release_from_job(session, gone)
        session.delete(gone)
    session.flush()
    for image, rel in zip(pending, pending_rel, strict=True):
        assert image.id is not None
        seen[image.id] = rel
        send_next(session, image.state, image.id, owner.id)  # analysis, once committed
    job.total = len(pending)
    if not pending:
        job.state, job.finished_at = JobState.DONE, utcnow()
    session.add(job)
    session.flush()
    return FolderBatch(owner.id, job, seen, [i.id for i in pending if i.id is not None], stale)
