"""Task: group a person's newly analysed images, and rebuild the groups that changed."""

from __future__ import annotations

from backend.db.locks import lock_owner
from backend.services.context import AppContext
from backend.services.features.detect_objects import tags_wanted
from backend.services.grouping.candidates import BATCH, analysed
from backend.services.grouping.compare import compare
from backend.services.grouping.marks import take_marks
from backend.services.grouping.prepare import Batch, prepare_batch
from backend.services.grouping.regroup import regroup
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import DETECT, GROUP


def update_owner_groups(ctx: AppContext, owner_id: int) -> None:
    """Compare the owner's analysed images with their library, then rebuild the groups of the
    components that the new pairs and the marked images (deletions, decisions) touch."""
    group_prepared(ctx, owner_id, prepare_batch(ctx, owner_id))  # prepared before the lock


def group_prepared(ctx: AppContext, owner_id: int, batch: Batch) -> None:
    """The locked phase: store the pairs of what ``batch`` prepared and rebuild the groups.
    Another run may have committed since the batch was prepared (``compare`` notices)."""
    with ctx.session(write=True) as session:
        lock_owner(session, owner_id)  # one grouping per owner at a time, on any machine
        changed = take_marks(session, owner_id)
        waiting = session.exec(analysed(owner_id)).all()
        new = [image for image in waiting if image.id in batch.image_ids]
        if new:
            changed |= compare(session, ctx, owner_id, new, batch.verified, batch.gathered)
        if changed:
            regroup(session, owner_id, changed)
        if len(waiting) == BATCH or len(new) < len(waiting):
            # More are waiting (arrived after the prepare, or past the batch): the next run
            # takes them, once this one committed.
            enqueue_job(session, GROUP, owner_id=owner_id)
        if new and tags_wanted(ctx):  # the groups are ready: now the tags, in the background
            enqueue_job(session, DETECT, owner_id=owner_id)
