"""Use case: a person takes back a resolve or a dismiss.

No column records an undo: the decisions of a group alternate (closed by a decision, reopened
by the undo of that decision, which is stored as a decision with the action "open"), so a
decision can be undone only while it is the latest one of its group.
"""

from __future__ import annotations

from itertools import combinations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.grouping import pair
from backend.models import (
    DuplicateGroup,
    GroupDecision,
    GroupMember,
    GroupStatus,
    Image,
    PairDecision,
    Verdict,
    utcnow,
)
from backend.services.errors import Conflict
from backend.services.grouping.marks import mark_for_regroup
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import GROUP
from backend.services.scoping import get_owned

VERDICT_OF = {GroupStatus.RESOLVED: Verdict.KEEP_BOTH, GroupStatus.DISMISSED: Verdict.NOT_DUPLICATE}


def latest_decisions(session: Session, group_ids: list[int]) -> dict[int, int]:
    """The id of the latest decision of each of these groups (an undone decision is not)."""
    if not group_ids:
        return {}
    rows = session.execute(
        sa.select(col(GroupDecision.group_id), sa.func.max(col(GroupDecision.id)))
        .where(col(GroupDecision.group_id).in_(group_ids))
        .group_by(col(GroupDecision.group_id))
    )
    return {int(gid): int(did) for gid, did in rows}


def is_undone(decision: GroupDecision, latest: dict[int, int]) -> bool:
    # A group is rebuilt (its id dropped, ``group_id`` set to NULL) only once reopened.
    return decision.group_id is None or latest.get(decision.group_id) != decision.id


def undo(session: Session, owner_id: int, decision_id: int) -> GroupDecision:
    """Restore what the decision trashed, forget the pair answers it gave (those another
    standing decision also gave stay) and reopen its group; grouping then rebuilds the group
    around what changed since. 409 if it was undone already or its photos were purged."""
    decision = get_owned(session, GroupDecision, owner_id, decision_id, "decision")
    if decision.action not in VERDICT_OF:
        raise Conflict(f"decision {decision_id} is an undo; decide the group again instead")
    group = session.get(DuplicateGroup, decision.group_id) if decision.group_id else None
    if group is None or is_undone(decision, latest_decisions(session, [decision.group_id or 0])):
        raise Conflict(f"decision {decision_id} was already undone")
    trashed = session.exec(
        select(Image).where(Image.owner_id == owner_id, col(Image.id).in_(decision.trash))
    ).all()
    purged = len(set(decision.trash)) - len(trashed)
    if purged:
        raise Conflict(
            f"decision {decision_id} cannot be undone: {purged} of the photos it trashed "
            "were deleted from the trash for good"
        )
    for image in trashed:
        image.trashed_at = None
        session.add(image)
    _forget_pairs(session, owner_id, decision)
    group.status = GroupStatus.OPEN
    group.updated_at = utcnow()
    session.add(group)
    record = GroupDecision(
        owner_id=owner_id,
        group_id=group.id,
        action=GroupStatus.OPEN,
        keep=list(decision.keep),
        trash=list(decision.trash),
    )
    session.add(record)
    session.flush()
    mark_for_regroup(session, owner_id, [*decision.keep, *decision.trash])
    enqueue_job(session, GROUP, owner_id=owner_id)
    return record


def _forget_pairs(session: Session, owner_id: int, decision: GroupDecision) -> None:
    """Delete the decision's pair answers (among the images it kept) that no other standing
    decision of the same kind also gave: an earlier dismiss of two of them still holds."""
    verdict = VERDICT_OF[decision.action]
    pairs = {pair(a, b) for a, b in combinations(sorted(set(decision.keep)), 2)}
    if not pairs:
        return
    others = session.exec(
        select(GroupDecision).where(
            GroupDecision.owner_id == owner_id,
            GroupDecision.action == decision.action,
            GroupDecision.id != decision.id,
            col(GroupDecision.group_id).in_(
                sa.select(col(GroupMember.group_id)).where(
                    col(GroupMember.image_id).in_(decision.keep)
                )
            ),
        )
    ).all()
    latest = latest_decisions(session, sorted({o.group_id for o in others if o.group_id}))
    for other in others:
        if not is_undone(other, latest):
            pairs -= {pair(a, b) for a, b in combinations(sorted(set(other.keep)), 2)}
    for a, b in sorted(pairs):
        session.execute(
            sa.delete(PairDecision).where(
                col(PairDecision.owner_id) == owner_id,
                col(PairDecision.image_a) == a,
                col(PairDecision.image_b) == b,
                col(PairDecision.verdict) == verdict,
            )
        )
