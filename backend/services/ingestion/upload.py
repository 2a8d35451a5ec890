"""Use case: a person uploads files. Each is checked, stored once, and queued for analysis."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session

from backend.core.decode import DecodeLimits, probe
from backend.core.features import sha256_hex
from backend.core.filenames import checked_filename, shown_name
from backend.core.rejected import ImageRejected
from backend.models import Image, IngestionMode, Job, JobState, utcnow
from backend.services.pipeline import send_next
from backend.services.storage.blobstore import BlobStore, content_key


@dataclass(frozen=True)
class IncomingFile:
    filename: str
    data: bytes | None  # None: over the size limit, not read beyond it


@dataclass
class UploadResult:
    job: Job
    images: list[Image] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def ingest_upload(
    session: Session,
    store: BlobStore,
    limits: DecodeLimits,
    owner_id: int,
    files: Iterable[IncomingFile],
) -> UploadResult:
    """Checks and stores the files first, with no database transaction open (so the write
    lock is held only for the inserts); flushes rows and queues their analysis in ``session``,
    sent when the caller's transaction commits."""
    accepted: list[Image] = []
    rejected: list[tuple[str, str]] = []
    for incoming in files:
        shown = shown_name(incoming.filename) or "(no name)"  # echoed back: no disguise
        try:
            name = checked_filename(incoming.filename)
            if incoming.data is None:
                raise ImageRejected(
                    f"the file is over the limit of {limits.max_bytes / 2**20:.1f} MiB"
                )
            probe(incoming.data, name, limits)
        except ImageRejected as exc:
            rejected.append((shown, exc.reason))
            continue
        sha = sha256_hex(incoming.data)
        key = content_key(owner_id, sha)
        # Always written (atomically): a concurrent delete of the same bytes cannot leave
        # this image without its file.
        store.put(key, incoming.data)
        accepted.append(
            Image(
                owner_id=owner_id,
                source=IngestionMode.UPLOAD,
                filename=name,
                storage_key=key,
                content_sha256=sha,
                size_bytes=len(incoming.data),
            )
        )
    job = Job(owner_id=owner_id, kind="upload", total=len(accepted))
    if not accepted:
        job.state, job.finished_at = JobState.DONE, utcnow()
    session.add(job)
    session.flush()
    for image in accepted:
        image.job_id = job.id
        session.add(image)
    session.flush()
    for image in accepted:
        assert image.id is not None
        send_next(session, image.state, image.id, owner_id)
    return UploadResult(job, accepted, rejected)
