"""Reading groups for a person: members, pair explanations and the suggested keeper."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.grouping import Tier
from backend.core.keeper import Candidate, Suggestion, suggest_keeper
from backend.models import DuplicateGroup, GroupMember, GroupStatus, Image, ImageObject, ImagePair
from backend.services.objects import groups_showing, objects_of
from backend.services.scoping import get_owned, owned_query


@dataclass
class GroupView:
    group: DuplicateGroup
    images: list[Image]
    pairs: list[ImagePair]
    keeper: Suggestion | None  # None when no member is left
    objects: dict[int, list[ImageObject]] = field(default_factory=dict)  # by image id


def candidate(image: Image) -> Candidate:
    assert image.id is not None
    return Candidate(
        id=image.id,
        width=image.width or 0,
        height=image.height or 0,
        size_bytes=image.size_bytes,
        format=image.format or "",
        exif_fields=image.exif_fields,
        taken_at=image.taken_at,
        camera_model=image.camera_model,
        is_greyscale=image.is_greyscale,
    )


def _visible_members() -> sa.Select[int]:
    """Groups with two or more members not in the trash (a deletion may be mid-regroup)."""
    return (
        sa.select(col(GroupMember.group_id))
        .join(Image, col(Image.id) == col(GroupMember.image_id))
        .where(col(Image.trashed_at).is_(None))
        .group_by(col(GroupMember.group_id))
        .having(sa.func.count() >= 2)
    )


def list_groups(
    session: Session,
    owner_id: int,
    tier: Tier | None,
    page: int,
    size: int,
    showing: str | None = None,
) -> tuple[list[GroupView], int]:
    """Open groups, optionally of one tier and with a member showing an object."""
    stmt = owned_query(DuplicateGroup, owner_id).where(
        DuplicateGroup.status == GroupStatus.OPEN, col(DuplicateGroup.id).in_(_visible_members())
    )
    if tier is not None:
        stmt = stmt.where(DuplicateGroup.tier == tier)
    if showing:
        stmt = stmt.where(col(DuplicateGroup.id).in_(groups_showing(owner_id, showing)))
    total = session.exec(select(sa.func.count()).select_from(stmt.subquery())).one()
    groups = session.exec(
        stmt.order_by(col(DuplicateGroup.id)).offset((page - 1) * size).limit(size)
    ).all()
    return [view(session, g) for g in groups], total


def get_group(session: Session, owner_id: int, group_id: int) -> DuplicateGroup:
    return get_owned(session, DuplicateGroup, owner_id, group_id, "group")


def view(session: Session, group: DuplicateGroup) -> GroupView:
    images = list(
        session.exec(
            select(Image)
            .join(GroupMember, col(GroupMember.image_id) == col(Image.id))
            .where(GroupMember.group_id == group.id, col(Image.trashed_at).is_(None))
            .order_by(col(Image.id))
        ).all()
    )
    ids = [i.id for i in images]
    pairs = list(
        session.exec(
            select(ImagePair)
            .where(col(ImagePair.image_a).in_(ids), col(ImagePair.image_b).in_(ids))
            .order_by(col(ImagePair.image_a), col(ImagePair.image_b))
        ).all()
    )
    keeper = (
        suggest_keeper([candidate(i) for i in images], identical=group.tier == Tier.EXACT)
        if images
        else None
    )
    return GroupView(group, images, pairs, keeper, objects_of(session, [i for i in ids if i]))
