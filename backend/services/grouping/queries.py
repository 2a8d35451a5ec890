"""Reading groups for a person: members, pair explanations and the suggested keeper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.grouping import Tier
from backend.core.keeper import DEFAULT_RULES, Candidate, Suggestion, suggest_keeper
from backend.models import (
    DuplicateGroup,
    GroupMember,
    GroupStatus,
    Image,
    ImageObject,
    ImagePair,
    IngestionMode,
)
from backend.services.objects import groups_showing, objects_among
from backend.services.pagination import paginate
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
        blank_share=image.blank_share or 0.0,
        filename=image.filename,
        file_time=_file_time(image),
    )


def _file_time(image: Image) -> datetime | None:
    """A scanned file's modification time (``size:mtime_ns``), where known."""
    if image.source != IngestionMode.FOLDER or not image.source_version:
        return None
    try:
        ns = int(image.source_version.split(":", 1)[1])
    except (IndexError, ValueError):
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).replace(tzinfo=None)


SUGGESTED_ACTION = {
    Tier.EXACT: "keep the suggested copy and trash the others: they are the same picture",
    Tier.NEAR: "keep the suggested copy and trash the others: they are copies of one photo",
    Tier.SIMILAR: (
        "pick the best shot: these are other shots of one scene, not copies; "
        "nothing is trashed unless you choose it"
    ),
}


def _visible_members(owner_id: int | sa.BindParameter[int]) -> sa.Select[int]:
    """The person's groups with two or more members not in the trash (a deletion may be
    mid-regroup)."""
    # From the person's open groups (a few per thousand photos), not from all their photos.
    return (
        sa.select(col(GroupMember.group_id))
        .join(DuplicateGroup, col(DuplicateGroup.id) == col(GroupMember.group_id))
        .join(Image, col(Image.id) == col(GroupMember.image_id))
        .where(
            col(DuplicateGroup.owner_id) == owner_id,
            col(DuplicateGroup.status) == GroupStatus.OPEN,
            col(Image.trashed_at).is_(None),
        )
        .group_by(col(GroupMember.group_id))
        .having(sa.func.count() >= 2)
    )


class GroupSort(StrEnum):
    SPACE = "space"  # the most space to free first
    SIZE = "size"  # the most photos first
    DATE = "date"  # the newest photos (capture date) first


def _member_stats(owner_id: int) -> sa.Subquery:
    """Per visible group: its members not in the trash, their bytes beyond the largest copy
    (what keeping one copy frees, ranked without choosing keepers) and the newest capture."""
    size = col(Image.size_bytes)
    return (
        _visible_members(owner_id)
        .add_columns(
            sa.func.count().label("members"),
            (sa.func.sum(size) - sa.func.max(size)).label("space"),
            sa.func.max(col(Image.taken_at)).label("taken"),
            sa.func.max(col(Image.id)).label("newest"),
        )
        .subquery()
    )


def list_groups(
    session: Session,
    owner_id: int,
    tier: Tier | None,
    page: int,
    size: int,
    showing: str | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    sort: GroupSort | None = None,
) -> tuple[list[GroupView], int]:
    """Open groups, optionally of one tier and with a member showing an object; in id order
    unless ``sort`` says otherwise (ties in id order, so no group shows on two pages)."""
    stmt = owned_query(DuplicateGroup, owner_id).where(DuplicateGroup.status == GroupStatus.OPEN)
    order: list[sa.UnaryExpression[object]] = []
    if sort is None:
        stmt = stmt.where(col(DuplicateGroup.id).in_(_visible_members(owner_id)))
    else:
        stats = _member_stats(owner_id)
        stmt = stmt.join(stats, stats.c.group_id == col(DuplicateGroup.id))
        order = {
            GroupSort.SPACE: [stats.c.space.desc()],
            GroupSort.SIZE: [stats.c.members.desc()],
            GroupSort.DATE: [stats.c.taken.desc().nulls_last(), stats.c.newest.desc()],
        }[sort]
    if tier is not None:
        stmt = stmt.where(DuplicateGroup.tier == tier)
    if showing:
        stmt = stmt.where(col(DuplicateGroup.id).in_(groups_showing(owner_id, showing)))
    stmt = stmt.order_by(*order, col(DuplicateGroup.id))
    groups, total = paginate(session, stmt, page, size)
    return views(session, groups, rules), total


def open_group_ids(session: Session, owner_id: int, tier: Tier) -> list[int]:
    """The ids of the person's open groups of a tier that show, in id order."""
    return list(
        session.execute(
            sa.select(col(DuplicateGroup.id))
            .where(
                col(DuplicateGroup.owner_id) == owner_id,
                col(DuplicateGroup.status) == GroupStatus.OPEN,
                col(DuplicateGroup.tier) == tier,
                col(DuplicateGroup.id).in_(_visible_members(owner_id)),
            )
            .order_by(col(DuplicateGroup.id))
        ).scalars()
    )


# Built once (it runs on every page of the web UI): the owner is bound when it runs.
_COUNTS = (
    sa.select(col(DuplicateGroup.tier), sa.func.count())
    .where(
        col(DuplicateGroup.owner_id) == sa.bindparam("owner_id"),
        col(DuplicateGroup.status) == GroupStatus.OPEN,
        col(DuplicateGroup.id).in_(_visible_members(sa.bindparam("owner_id"))),
    )
    .group_by(col(DuplicateGroup.tier))
)


def count_groups(session: Session, owner_id: int) -> dict[Tier, int]:
    """How many open groups of each tier the person sees."""
    counts = dict.fromkeys(Tier, 0)
    for tier, n in session.execute(_COUNTS, {"owner_id": owner_id}):
        counts[tier] = n
    return counts


def bytes_freed(shown: GroupView) -> int:
    """What accepting the suggestion frees: the members other than the suggested keeper (none
    for similar groups, whose suggestion trashes nothing)."""
    if shown.keeper is None or shown.group.tier == Tier.SIMILAR:
        return 0
    return sum(i.size_bytes for i in shown.images if i.id != shown.keeper.image_id)


def get_group(session: Session, owner_id: int, group_id: int) -> DuplicateGroup:
    return get_owned(session, DuplicateGroup, owner_id, group_id, "group")


def view(
    session: Session, group: DuplicateGroup, rules: Sequence[str] = DEFAULT_RULES
) -> GroupView:
    (shown,) = views(session, [group], rules)
    return shown


def views(
    session: Session, groups: Sequence[DuplicateGroup], rules: Sequence[str] = DEFAULT_RULES
) -> list[GroupView]:
    """The groups as shown, in three statements however many groups and members there are:
    the members not in the trash, the pairs among them, and their detected objects."""
    if not groups:
        return []
    group_ids = [g.id for g in groups]
    members_where = (col(GroupMember.group_id).in_(group_ids), col(Image.trashed_at).is_(None))
    images: dict[int | None, list[Image]] = {g.id: [] for g in groups}
    groups_of: dict[int | None, set[int | None]] = {}  # image id -> its groups on the page
    for group_id, image in session.exec(
        select(col(GroupMember.group_id), Image)
        .join(Image, col(Image.id) == col(GroupMember.image_id))
        .where(*members_where)
        .order_by(col(Image.id), col(GroupMember.group_id))
    ).all():
        images[group_id].append(image)
        groups_of.setdefault(image.id, set()).add(group_id)

    member_ids = (
        sa.select(col(GroupMember.image_id))
        .join(Image, col(Image.id) == col(GroupMember.image_id))
        .where(*members_where)
    )
    all_pairs = session.exec(
        select(ImagePair)
        .where(col(ImagePair.image_a).in_(member_ids), col(ImagePair.image_b).in_(member_ids))
        .order_by(col(ImagePair.image_a), col(ImagePair.image_b))
    ).all()
    # Pairs are not stored by group, and a page's groups may share members (an exact group
    # inside a near one): each group has the pairs with both images among its own members.
    pairs: dict[int | None, list[ImagePair]] = {g.id: [] for g in groups}
    for p in all_pairs:
        for both_in in groups_of.get(p.image_a, set()) & groups_of.get(p.image_b, set()):
            pairs[both_in].append(p)
    found = objects_among(session, member_ids)

    shown = []
    for group in groups:
        members = images[group.id]
        ids = sorted(i.id for i in members if i.id is not None)
        keeper = (
            suggest_keeper(
                [candidate(i) for i in members], identical=group.tier == Tier.EXACT, rules=rules
            )
            if members
            else None
        )
        objects = {i: found.get(i, []) for i in ids}
        shown.append(GroupView(group, members, pairs[group.id], keeper, objects))
    return shown
