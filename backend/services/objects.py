"""Detected objects: per-image tags, group tags and the object filter (always owner-scoped)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.models import GroupMember, ImageObject

# Tags shown on an image: objects detected at least this confidently (the detector keeps
# weaker ones for the people-count check, where a missed person matters more).
TAG_CONFIDENCE = 0.5


def objects_of(session: Session, image_ids: Iterable[int]) -> dict[int, list[ImageObject]]:
    """The objects of each of ``image_ids``, most confident first (an empty list for none)."""
    ids = sorted(set(image_ids))
    out: dict[int, list[ImageObject]] = {i: [] for i in ids}
    if ids:
        _collect(session, col(ImageObject.image_id).in_(ids), out)
    return out


def objects_among(session: Session, image_ids: sa.Select[int]) -> dict[int, list[ImageObject]]:
    """The objects of the images ``image_ids`` selects, most confident first, in one statement
    however many images it selects; images without objects have no entry."""
    out: dict[int, list[ImageObject]] = {}
    _collect(session, col(ImageObject.image_id).in_(image_ids), out)
    return out


def _collect(
    session: Session, where: sa.ColumnElement[bool], out: dict[int, list[ImageObject]]
) -> None:
    rows = session.exec(
        select(ImageObject)
        .where(where)
        .order_by(
            col(ImageObject.image_id), col(ImageObject.confidence).desc(), col(ImageObject.id)
        )
    )
    for row in rows:
        out.setdefault(row.image_id, []).append(row)


def tags(objects: Iterable[ImageObject]) -> list[str]:
    """Distinct labels, most confident first."""
    seen: dict[str, float] = {}
    for o in objects:
        if o.confidence >= TAG_CONFIDENCE and o.confidence > seen.get(o.label, -1.0):
            seen[o.label] = o.confidence
    return sorted(seen, key=lambda label: (-seen[label], label))


def images_showing(owner_id: int, label: str) -> sa.Select[int]:
    """The owner's image ids where ``label`` was detected as a tag."""
    return (
        sa.select(col(ImageObject.image_id))
        .where(
            col(ImageObject.owner_id) == owner_id,
            col(ImageObject.label) == label,
            col(ImageObject.confidence) >= TAG_CONFIDENCE,
        )
        .distinct()
    )


def groups_showing(owner_id: int, label: str) -> sa.Select[int]:
    """Group ids with at least one member showing ``label``."""
    return (
        sa.select(col(GroupMember.group_id))
        .where(col(GroupMember.image_id).in_(images_showing(owner_id, label)))
        .distinct()
    )


def label_counts(session: Session, owner_id: int) -> list[tuple[str, int]]:
    """The owner's object tags with how many images show each, most common first."""
    rows = session.execute(
        sa.select(col(ImageObject.label), sa.func.count(sa.distinct(col(ImageObject.image_id))))
        .where(
            col(ImageObject.owner_id) == owner_id,
            col(ImageObject.confidence) >= TAG_CONFIDENCE,
        )
        .group_by(col(ImageObject.label))
    ).all()
    return sorted(((str(label), int(n)) for label, n in rows), key=lambda r: (-r[1], r[0]))
