"""Which open groups an image is in (for marking and regrouping its neighbours)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import col

from backend.models import DuplicateGroup, GroupMember, GroupStatus


def open_groups_with(owner_id: int, image_ids: Collection[int]) -> sa.Select[int]:
    """The ids of the person's open groups that have any of ``image_ids`` as a member."""
    return (
        sa.select(col(GroupMember.group_id))
        .join(DuplicateGroup, col(DuplicateGroup.id) == col(GroupMember.group_id))
        .where(
            col(GroupMember.image_id).in_(image_ids),
            col(DuplicateGroup.owner_id) == owner_id,
            col(DuplicateGroup.status) == GroupStatus.OPEN,
        )
    )
