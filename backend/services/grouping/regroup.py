"""Rebuild the open groups that changed, from their pairs and decisions, keeping ids stable.

Only the connected components that the changed images (``seeds``) belong to are read and
rebuilt: the images reachable from them through pairs or through the open groups they share.
Groups never span two components, so every other group stays as it is, and a grouping run
costs the size of what changed, not of the library.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.core.grouping import Edge, Group, Tier, forbidden_map, reconcile, tiered_groups
from backend.models import DuplicateGroup, GroupMember, Image, ImagePair, PairDecision, utcnow
from backend.services.grouping.open_groups import open_groups_with

GROUPED_TIERS = (Tier.EXACT, Tier.NEAR, Tier.SIMILAR)
OTHER_SHOT = "other_shot"  # core.verify.Verdict.OTHER_SHOT, as ImagePair.verdict stores it


def two_shots(verdict: str | None, explained: float | None, moved: float | None) -> bool:
    """Positive evidence that a pair is two captures, strong enough to keep them out of one
    near group even through copies: EXIF said so (no picture compared: nothing explained), or
    texture moved on its own where one transform explains the rest (``moved`` is set only
    there). A pair that one transform merely explains too little of (a heavy edit looks the
    same) is only kept out of near itself."""
    return verdict == OTHER_SHOT and (explained is None or moved is not None)


CHUNK = 5000  # ids per IN list


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


@dataclass
class _Area:
    """The connected components around the seeds: their images, pairs and open groups."""

    images: set[int] = field(default_factory=set)
    pairs: dict[tuple[int, int], Edge] = field(default_factory=dict)
    two_shots: set[tuple[int, int]] = field(default_factory=set)  # verdict "other_shot"
    groups: dict[int, set[int]] = field(default_factory=dict)  # open group id -> members

    @classmethod
    def around(cls, session: Session, owner_id: int, seeds: Iterable[int]) -> _Area:
        area = cls()
        frontier = set(seeds)
        while frontier:
            area.images |= frontier
            reached: set[int] = set()
            for chunk in _chunks(frontier):
                for side in (ImagePair.image_a, ImagePair.image_b):
                    for a, b, tier, distance, verdict, explained, moved in session.execute(
                        sa.select(
                            col(ImagePair.image_a),
                            col(ImagePair.image_b),
                            col(ImagePair.tier),
                            col(ImagePair.distance),
                            col(ImagePair.verdict),
                            col(ImagePair.explained),
                            col(ImagePair.moved),
                        ).where(col(ImagePair.owner_id) == owner_id, col(side).in_(chunk))
                    ):
                        area.pairs[(a, b)] = Edge(a, b, tier, distance)
                        if two_shots(verdict, explained, moved):
                            area.two_shots.add((a, b))
                        reached.update((a, b))
                new_groups = set(
                    session.execute(open_groups_with(owner_id, chunk)).scalars()
                ) - set(area.groups)
                for gid in new_groups:
                    area.groups[gid] = set()
                if new_groups:
                    for gid, iid in session.execute(
                        sa.select(col(GroupMember.group_id), col(GroupMember.image_id)).where(
                            col(GroupMember.group_id).in_(sorted(new_groups))
                        )
                    ):
                        area.groups[gid].add(iid)
                        reached.add(iid)
            frontier = reached - area.images
        return area


def regroup(session: Session, owner_id: int, seeds: Iterable[int]) -> None:
    """Rebuild the open groups of the components that ``seeds`` belong to."""
    area = _Area.around(session, owner_id, seeds)
    if not area.images:
        return
    hidden: set[int] = set()
    decided: list[tuple[int, int]] = []
    for chunk in _chunks(area.images):
        hidden.update(
            session.execute(
                sa.select(col(Image.id)).where(
                    col(Image.id).in_(chunk), col(Image.trashed_at).is_not(None)
                )
            ).scalars()
        )
        decided.extend(
            (a, b)
            for a, b in session.execute(
                sa.select(col(PairDecision.image_a), col(PairDecision.image_b)).where(
                    col(PairDecision.owner_id) == owner_id, col(PairDecision.image_a).in_(chunk)
                )
            )
            if b in area.images
        )
    edges = [e for e in area.pairs.values() if e.a not in hidden and e.b not in hidden]
    wanted = tiered_groups(
        edges, forbidden_map(decided), GROUPED_TIERS, forbidden_map(area.two_shots)
    )

    rows = {
        g.id: g
        for g in session.execute(
            sa.select(DuplicateGroup).where(col(DuplicateGroup.id).in_(sorted(area.groups)))
        ).scalars()
        if g.id is not None
    }
    existing = {gid: Group(rows[gid].tier, frozenset(area.groups[gid])) for gid in rows}
    plan = reconcile(existing, wanted)

    now = utcnow()
    for gid in plan.drop:
        session.delete(rows[gid])
    for gid, group in plan.keep.items():
        old = area.groups[gid]
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
        rows[gid].updated_at = now
        session.add(rows[gid])
    for group in plan.create:
        row = DuplicateGroup(owner_id=owner_id, tier=group.tier)
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add_all(GroupMember(group_id=row.id, image_id=i) for i in group.members)
    session.flush()
