"""Rebuild an owner's open groups from their duplicate pairs and decisions, keeping ids stable."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.grouping import Edge, Group, Tier, forbidden_map, reconcile, tiered_groups
from backend.models import (
    DuplicateGroup,
    GroupMember,
    GroupStatus,
    Image,
    ImagePair,
    PairDecision,
    utcnow,
)

GROUPED_TIERS = (Tier.EXACT, Tier.NEAR, Tier.SIMILAR)


def regroup(session: Session, owner_id: int) -> None:
    hidden = set(
        session.exec(
            select(Image.id).where(Image.owner_id == owner_id, col(Image.trashed_at).is_not(None))
        ).all()
    )
    edges = [
        Edge(p.image_a, p.image_b, p.tier, p.distance)
        for p in session.exec(select(ImagePair).where(ImagePair.owner_id == owner_id))
        if p.image_a not in hidden and p.image_b not in hidden
    ]
    decided = session.execute(
        sa.select(col(PairDecision.image_a), col(PairDecision.image_b)).where(
            col(PairDecision.owner_id) == owner_id
        )
    )
    wanted = tiered_groups(edges, forbidden_map((a, b) for a, b in decided), GROUPED_TIERS)

    open_groups = {
        g.id: g
        for g in session.exec(
            select(DuplicateGroup).where(
                DuplicateGroup.owner_id == owner_id, DuplicateGroup.status == GroupStatus.OPEN
            )
        )
        if g.id is not None
    }
    members: dict[int, set[int]] = {gid: set() for gid in open_groups}
    if open_groups:
        for gid, iid in session.execute(
            sa.select(col(GroupMember.group_id), col(GroupMember.image_id)).where(
                col(GroupMember.group_id).in_(list(open_groups))
            )
        ):
            members[gid].add(iid)
    existing = {gid: Group(g.tier, frozenset(members[gid])) for gid, g in open_groups.items()}
    plan = reconcile(existing, wanted)

    now = utcnow()
    for gid in plan.drop:
        session.delete(open_groups[gid])
    for gid, group in plan.keep.items():
        old = members[gid]
        if old == group.members:
            continue
        gone = old - group.members
        if gone:
            session.execute(
                sa.delete(GroupMember).where(
                    col(GroupMember.group_id) == gid, col(GroupMember.image_id).in_(gone)
                )
            )
        session.add_all(GroupMember(group_id=gid, image_id=i) for i in group.members - old)
        open_groups[gid].updated_at = now
        session.add(open_groups[gid])
    for group in plan.create:
        row = DuplicateGroup(owner_id=owner_id, tier=group.tier)
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add_all(GroupMember(group_id=row.id, image_id=i) for i in group.members)
    session.flush()
