"""Images whose groups must be rebuilt, marked in the transaction that changed them.

A deletion, a decision or a file gone from a scanned folder changes groups that no new image
touches. The change marks the images concerned (``RegroupMark``) in its own transaction and
queues the owner's grouping; the grouping run drains the marks and rebuilds only the
connected components they touch. A lost message delays that, never loses it: recovery sends
a grouping for every owner with marks left.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.db.insert import insert_missing
from backend.models import GroupMember, ImagePair, RegroupMark
from backend.services.grouping.open_groups import open_groups_with


def mark_for_regroup(session: Session, owner_id: int, image_ids: Iterable[int]) -> None:
    rows = [{"owner_id": owner_id, "image_id": i} for i in sorted(set(image_ids))]
    insert_missing(session, RegroupMark.__table__, rows)  # type: ignore[attr-defined]


def mark_neighbours(session: Session, owner_id: int, image_ids: Iterable[int]) -> None:
    """Before ``image_ids`` go: mark the images they are paired or grouped with."""
    ids = sorted(set(image_ids))
    if not ids:
        return
    neighbours: set[int] = set()
    for mine, theirs in (
        (ImagePair.image_a, ImagePair.image_b),
        (ImagePair.image_b, ImagePair.image_a),
    ):
        neighbours.update(
            session.execute(
                sa.select(col(theirs)).where(
                    col(ImagePair.owner_id) == owner_id, col(mine).in_(ids)
                )
            ).scalars()
        )
    neighbours.update(
        session.execute(
            sa.select(col(GroupMember.image_id)).where(
                col(GroupMember.group_id).in_(open_groups_with(owner_id, ids))
            )
        ).scalars()
    )
    mark_for_regroup(session, owner_id, neighbours - set(ids))


def take_marks(session: Session, owner_id: int) -> set[int]:
    """The owner's marked images, unmarked (the caller regroups them in this transaction)."""
    # One statement: a mark another transaction commits meanwhile is either taken or left.
    return set(
        session.execute(
            sa.delete(RegroupMark)
            .where(col(RegroupMark.owner_id) == owner_id)
            .returning(col(RegroupMark.image_id))
        ).scalars()
    )
