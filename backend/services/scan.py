"""Use case: find the duplicates in a folder (the ``dupfinder scan`` command).

The same pipeline as uploads: files are registered in place, analysed by the worker's task
functions and grouped by the same grouping; unchanged files keep their stored features.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.grouping import Tier
from backend.core.keeper import suggest_keeper
from backend.models import (
    DuplicateGroup,
    GroupMember,
    GroupStatus,
    Image,
    ImagePair,
    ImageState,
    RegroupMark,
)
from backend.models.image import UNFINISHED
from backend.services.context import AppContext
from backend.services.grouping.queries import SUGGESTED_ACTION, candidate
from backend.services.ingestion.folder import register_folder
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import DELETE_BLOBS, GROUP
from backend.services.scan_progress import PhaseProgress, ScanMeter
from backend.services.worker.embedded import EmbeddedWorker


@dataclass
class ScanGroup:
    tier: Tier
    paths: list[str]
    keep: str
    reasons: list[str]
    bytes_freed: int = 0  # what trashing the others frees (0 for similar: nothing by default)
    decided_by: list[str] = field(default_factory=list)  # what verification or EXIF said

    def as_json(self) -> dict[str, object]:
        return {
            "tier": self.tier.value,
            "members": self.paths,
            "keep": self.keep,
            "reasons": self.reasons,
            "bytes_freed": self.bytes_freed,
            "suggested_action": SUGGESTED_ACTION[self.tier],
            "decided_by": self.decided_by,
        }


@dataclass
class ScanReport:
    root: str
    files: int
    analysed: int  # analysed in this run (the rest came from earlier scans)
    seconds: float
    groups: list[ScanGroup] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # files a fault kept from analysis

    def as_json(self) -> dict[str, object]:
        """``exact``, ``near``, ``similar``: lists of path lists; ``skipped``: [path, reason];
        ``groups``: each group with its tier, members, suggested keeper, reasons and the bytes
        resolving it frees."""
        tiers: dict[str, list[list[str]]] = {t.value: [] for t in Tier}
        for g in self.groups:
            tiers[g.tier.value].append(g.paths)
        out: dict[str, object] = dict(tiers)
        out["skipped"] = [[p, r] for p, r in self.skipped]
        out["groups"] = [g.as_json() for g in self.groups]
        return out


def scan_folder(
    ctx: AppContext,
    worker: EmbeddedWorker,
    root_arg: str,
    progress: PhaseProgress | None = None,
) -> ScanReport:
    """Register the folder's files, let ``worker`` (this process's: it reads the files where
    they are) analyse and group them, and report the groups. ``progress`` is told each phase's
    count as it moves (hashing image by image)."""
    root = Path(root_arg)
    if not root.is_dir():
        raise NotADirectoryError(f"{root_arg} is not a folder")
    started = time.monotonic()
    meter = ScanMeter(ctx.ml, progress)
    with meter.attached(worker):
        with ctx.session(write=True) as session:
            own = (ctx.settings.data_dir, ctx.settings.blob_dir)  # never scan our own files
            batch = register_folder(session, root, own)
            meter.expect(batch.job.id, batch.pending)
            if batch.stale_thumbnails:
                enqueue_job(session, DELETE_BLOBS, keys=batch.stale_thumbnails)
            if batch.pending or _grouping_owed(session, batch.owner_id):
                # Even with nothing new: files gone since the last scan leave their groups.
                enqueue_job(session, GROUP, owner_id=batch.owner_id)
        # With nothing shown, just wait: each look at the counts queries the database.
        while not worker.wait_idle(timeout=None if progress is None else 0):
            with Session(ctx.engine) as session:
                meter.report(session)
            meter.wait(0.2)
        with Session(ctx.engine) as session:
            meter.report(session, final=True)
    total = len(batch.pending)

    def shown(rel: str) -> str:
        return os.path.join(root_arg, rel)

    report = ScanReport(root_arg, len(batch.images), total, time.monotonic() - started)
    with Session(ctx.engine) as session:
        images = {
            i.id: i
            for i in session.exec(select(Image).where(Image.owner_id == batch.owner_id))
            if i.id in batch.images
        }
        report.skipped = sorted(
            (shown(batch.images[i.id]), i.error or "unreadable")
            for i in images.values()
            if i.id is not None and i.state == ImageState.FAILED
        )
        report.unfinished = sorted(
            shown(batch.images[i.id])
            for i in images.values()
            if i.id is not None and i.state in UNFINISHED
        )
        members: dict[int, list[int]] = {}
        for gid, iid in session.execute(
            sa.select(col(GroupMember.group_id), col(GroupMember.image_id))
            .join(DuplicateGroup, col(DuplicateGroup.id) == col(GroupMember.group_id))
            .where(
                col(DuplicateGroup.owner_id) == batch.owner_id,
                col(DuplicateGroup.status) == GroupStatus.OPEN,
            )
        ):
            if iid in images:
                members.setdefault(gid, []).append(iid)
        tiers: dict[int, Tier] = {
            row[0]: row[1]
            for row in session.execute(
                sa.select(col(DuplicateGroup.id), col(DuplicateGroup.tier)).where(
                    col(DuplicateGroup.owner_id) == batch.owner_id
                )
            )
        }
        said: dict[tuple[int, int], str] = {
            (a, b): text
            for a, b, text in session.execute(
                sa.select(
                    col(ImagePair.image_a), col(ImagePair.image_b), col(ImagePair.decided_by)
                ).where(
                    col(ImagePair.owner_id) == batch.owner_id,
                    col(ImagePair.decided_by).is_not(None),
                )
            )
        }
    for gid, ids in sorted(members.items(), key=lambda kv: min(batch.images[i] for i in kv[1])):
        if len(ids) < 2:
            continue
        tier = tiers[gid]
        keeper = suggest_keeper(
            [candidate(images[i]) for i in ids],
            identical=tier == Tier.EXACT,
            rules=ctx.settings.keeper_rules,
        )
        in_group = set(ids)
        freed = sum(images[i].size_bytes for i in ids if i != keeper.image_id)
        report.groups.append(
            ScanGroup(
                tier=tier,
                paths=sorted(shown(batch.images[i]) for i in ids),
                keep=shown(batch.images[keeper.image_id]),
                reasons=keeper.reasons,
                bytes_freed=0 if tier == Tier.SIMILAR else freed,
                decided_by=sorted(
                    {t for (a, b), t in said.items() if a in in_group and b in in_group}
                ),
            )
        )
    return report


def _grouping_owed(session: Session, owner_id: int) -> bool:
    """Marked images (neighbours of files gone or changed) or analysed ones not yet compared:
    without either, grouping has nothing to do (and an unchanged folder skips it)."""
    marked = session.exec(select(RegroupMark.image_id).where(RegroupMark.owner_id == owner_id))
    waiting = session.exec(
        select(Image.id).where(Image.owner_id == owner_id, Image.state == ImageState.ANALYSED)
    )
    return marked.first() is not None or waiting.first() is not None
