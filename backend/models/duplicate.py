"""Duplicate edges between images, the groups they form, and what a person decided."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.grouping import Tier
from backend.models.base import str_enum, timestamp, utcnow


class ImagePair(SQLModel, table=True):
    """Two images of one owner that match, at the strictest tier found (``image_a < image_b``)."""

    __tablename__ = "image_pair"
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    image_a: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True)
    image_b: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True, index=True)
    tier: Tier = Field(sa_type=str_enum(Tier))
    distance: float = 0.0  # perceptual-hash distance (bits of 64, best of the 8 flips/turns)
    # What else the pair was judged on, for the explanation a person sees.
    copy_similarity: float | None = None  # SSCD cosine similarity
    semantic_similarity: float | None = None  # CLIP cosine similarity
    # Geometric verification of a would-be near pair (core/verify.py), done once: "copy",
    # "other_shot" or "undecided"; the share of the picture one transform explains; and the
    # check that decided the tier, in words ("taken 0.4 s apart").
    verdict: str | None = Field(default=None, max_length=16)
    explained: float | None = None
    inlier_ratio: float | None = None
    decided_by: str | None = Field(default=None, max_length=200)
    # Share of the picture that moved on its own (verification's motion check; None where it
    # did not look): with an "other_shot" verdict, proof of two captures (see regroup).
    moved: float | None = None


class GroupStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class DuplicateGroup(SQLModel, table=True):
    __tablename__ = "duplicate_group"
    __table_args__ = (
        sa.Index("ix_group_owner_tier_status", "owner_id", "tier", "status"),
        {"sqlite_autoincrement": True},  # a stale group id never names a newer group
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    tier: Tier = Field(sa_type=str_enum(Tier))
    status: GroupStatus = Field(default=GroupStatus.OPEN, sa_type=str_enum(GroupStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_member"
    group_id: int = Field(foreign_key="duplicate_group.id", ondelete="CASCADE", primary_key=True)
    image_id: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True, index=True)


class Verdict(StrEnum):
    NOT_DUPLICATE = "not_duplicate"  # dismissed: never group these two again
    KEEP_BOTH = "keep_both"  # resolved keeping both: the question is answered


class PairDecision(SQLModel, table=True):
    """A person's answer for a pair; grouping never joins such a pair again."""

    __tablename__ = "pair_decision"
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    image_a: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True)
    image_b: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True)
    verdict: Verdict = Field(sa_type=str_enum(Verdict))
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())


class GroupDecision(SQLModel, table=True):
    """The record of what was decided for a group, as it was shown."""

    __tablename__ = "group_decision"
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    group_id: int | None = Field(
        default=None, foreign_key="duplicate_group.id", ondelete="SET NULL"
    )
    action: GroupStatus = Field(sa_type=str_enum(GroupStatus))
    keep: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    trash: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())


class RegroupMark(SQLModel, table=True):
    """An image whose group must be rebuilt (a neighbour was deleted, a decision was taken…):
    written in the same transaction as the change, drained by the owner's next grouping run,
    so a lost message delays the regrouping but never loses it."""

    __tablename__ = "regroup_mark"
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", primary_key=True)
    image_id: int = Field(foreign_key="image.id", ondelete="CASCADE", primary_key=True)
