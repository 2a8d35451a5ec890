"""Use case: export a person's open groups and past decisions (JSON or CSV), so that copies
can be deleted where they came from (Google Photos' API cannot delete a photo: the link back
lets the person do it by hand)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from backend.core.grouping import Tier
from backend.core.keeper import DEFAULT_RULES
from backend.models import DuplicateGroup, GroupDecision, GroupStatus, Image, utcnow
from backend.services.grouping.queries import GroupView, bytes_freed, open_group_ids, views
from backend.services.scoping import owned_query
from backend.services.undo import VERDICT_OF, is_undone, latest_decisions

CHUNK = 500


@dataclass
class ExportedImage:
    image_id: int
    filename: str | None  # None: deleted for good since
    source: str | None
    source_id: str | None  # the id at the source (Google Photos), none for a scanned folder
    source_url: str | None  # the link back to the photo (Google Photos, a scraped page)
    bytes: int | None
    action: str  # keep, trash, or review (a similar group's other shots: the person picks)


@dataclass
class ExportedGroup:
    kind: str  # "group" (open, with its suggestion) or "decision"
    id: int
    group_id: int | None
    tier: str | None
    status: str  # open, resolved, dismissed; "undone" for a decision taken back
    decided_at: datetime | None
    bytes_freed: int
    images: list[ExportedImage]


def export(
    session: Session, owner_id: int, rules: Sequence[str] = DEFAULT_RULES
) -> list[ExportedGroup]:
    return [*_open_groups(session, owner_id, rules), *_decisions(session, owner_id)]


def _image(image: Image | None, image_id: int, action: str) -> ExportedImage:
    if image is None:
        return ExportedImage(image_id, None, None, None, None, None, action)
    return ExportedImage(
        image_id,
        image.filename,
        image.source.value,
        image.source_id if image.source != "FOLDER" else None,
        image.source_url,
        image.size_bytes,
        action,
    )


def _suggested(shown: GroupView) -> Iterator[ExportedImage]:
    keeper = shown.keeper.image_id if shown.keeper else None
    other = "review" if shown.group.tier == Tier.SIMILAR else "trash"
    for image in shown.images:
        assert image.id is not None
        yield _image(image, image.id, "keep" if image.id == keeper else other)


def _open_groups(session: Session, owner_id: int, rules: Sequence[str]) -> Iterator[ExportedGroup]:
    ids = [gid for tier in Tier for gid in open_group_ids(session, owner_id, tier)]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        groups = session.exec(
            owned_query(DuplicateGroup, owner_id).where(col(DuplicateGroup.id).in_(chunk))
        ).all()
        order = {gid: n for n, gid in enumerate(chunk)}
        for shown in views(session, sorted(groups, key=lambda g: order[g.id or 0]), rules):
            assert shown.group.id is not None
            yield ExportedGroup(
                "group",
                shown.group.id,
                shown.group.id,
                shown.group.tier.value,
                GroupStatus.OPEN.value,
                None,
                bytes_freed(shown),
                list(_suggested(shown)),
            )


def _decisions(session: Session, owner_id: int) -> Iterator[ExportedGroup]:
    decisions = session.exec(
        owned_query(GroupDecision, owner_id)
        .where(col(GroupDecision.action).in_(list(VERDICT_OF)))
        .order_by(col(GroupDecision.id))
    ).all()
    group_ids = sorted({d.group_id for d in decisions if d.group_id is not None})
    latest = latest_decisions(session, group_ids)
    tiers: dict[int, Tier] = {}
    for start in range(0, len(group_ids), CHUNK):
        for row in session.exec(
            select(DuplicateGroup).where(
                col(DuplicateGroup.id).in_(group_ids[start : start + CHUNK])
            )
        ):
            assert row.id is not None
            tiers[row.id] = row.tier
    images = _images(session, owner_id, {i for d in decisions for i in (*d.keep, *d.trash)})
    for d in decisions:
        assert d.id is not None
        tier = tiers.get(d.group_id) if d.group_id is not None else None
        shown = [
            *(_image(images.get(i), i, "keep") for i in d.keep),
            *(_image(images.get(i), i, "trash") for i in d.trash),
        ]
        yield ExportedGroup(
            "decision",
            d.id,
            d.group_id,
            tier.value if tier else None,
            "undone" if is_undone(d, latest) else d.action.value,
            d.created_at,
            sum(i.bytes or 0 for i in shown if i.action == "trash"),
            shown,
        )


def _images(session: Session, owner_id: int, ids: set[int]) -> dict[int, Image]:
    found: dict[int, Image] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        for image in session.exec(
            owned_query(Image, owner_id).where(col(Image.id).in_(ordered[start : start + CHUNK]))
        ):
            assert image.id is not None
            found[image.id] = image
    return found


def as_json(rows: list[ExportedGroup]) -> dict[str, object]:
    def plain(row: ExportedGroup) -> dict[str, object]:
        out = asdict(row)
        out["decided_at"] = row.decided_at.isoformat() if row.decided_at else None
        del out["kind"]
        return out

    return {
        "exported_at": utcnow().isoformat(),
        "groups": [plain(r) for r in rows if r.kind == "group"],
        "decisions": [plain(r) for r in rows if r.kind == "decision"],
    }


CSV_COLUMNS = (
    "kind",
    "id",
    "group_id",
    "tier",
    "status",
    "decided_at",
    "image_id",
    "filename",
    "source",
    "source_id",
    "source_url",
    "bytes",
    "action",
)


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # A spreadsheet runs a cell that starts like a formula: a file name is never one.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(rows: list[ExportedGroup]) -> str:
    """One line per photo of each group or decision."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for image in row.images:
            head = (row.kind, row.id, row.group_id, row.tier, row.status, row.decided_at)
            tail = (image.image_id, image.filename, image.source, image.source_id)
            rest = (image.source_url, image.bytes, image.action)
            writer.writerow([_cell(v) for v in (*head, *tail, *rest)])
    return out.getvalue()
