"""Deleting stored bytes that no image refers to: after a deletion committed (a task), and the
sweep's reclaiming of blobs a crash left without their row."""

from __future__ import annotations

import itertools
import logging
import time

import sqlalchemy as sa
from sqlmodel import col

from backend.models import Image
from backend.services.context import AppContext

log = logging.getLogger(__name__)


def delete_unreferenced(ctx: AppContext, keys: list[str]) -> None:
    """Idempotent. A key is kept while any image uses it: another upload of the same bytes may
    have arrived after the deletion that queued this (content-addressed keys are shared)."""
    if not keys:
        return
    used = _referenced(ctx, keys)
    for key in keys:
        if key not in used:
            ctx.store.delete(key)  # a folder scan's own files (file: keys) are never deleted


def sweep_orphans(ctx: AppContext, grace_seconds: float, batch: int = 500) -> int:
    """Delete stored blobs that no image refers to and that nobody has written for
    ``grace_seconds``; returns how many. An upload (or import) writes its blob before its row
    commits, so a young blob without a row may be one still arriving: the grace period must be
    far longer than any request or import batch takes. Leftovers of a crash (blobs whose rows
    never committed, half-written temporary files) are what this reclaims."""
    cutoff = time.time() - grace_seconds
    removed = 0
    old = (b.key for b in ctx.store.stored() if b.modified < cutoff)
    while chunk := list(itertools.islice(old, batch)):
        unused = set(chunk) - _referenced(ctx, chunk)
        for key in sorted(unused):
            # Written again since it was listed (the same bytes uploaded anew): keep it.
            modified = ctx.store.modified(key)
            if modified is not None and modified < cutoff:
                ctx.store.delete(key)
                removed += 1
    if removed:
        log.warning("removed %d stored file(s) that no image refers to", removed)
    return removed


def _referenced(ctx: AppContext, keys: list[str]) -> set[str]:
    with ctx.session() as session:
        return set(
            session.execute(
                sa.select(col(Image.storage_key)).where(col(Image.storage_key).in_(keys))
            ).scalars()
        ) | set(
            session.execute(
                sa.select(col(Image.thumbnail_key)).where(col(Image.thumbnail_key).in_(keys))
            ).scalars()
        )
