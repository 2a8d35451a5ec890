"""Use case: accept the suggestions of many groups at once (a page, or a whole tier).

Only copies are accepted in bulk: exact and near groups keep their suggested keeper and
trash the others. Similar groups are other shots of one scene; a person picks the best one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col

from backend.core.grouping import Tier
from backend.core.keeper import DEFAULT_RULES
from backend.models import DuplicateGroup, GroupStatus
from backend.services.decisions import resolve_shown
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.grouping.queries import bytes_freed, open_group_ids, views
from backend.services.scoping import owned_query

CHUNK = 200  # groups read at a time


@dataclass
class Accepted:
    groups: int = 0
    images_trashed: int = 0
    bytes_freed: int = 0
    decision_ids: list[int] = field(default_factory=list)


def accept(
    session: Session,
    owner_id: int,
    tier: Tier,
    group_ids: Sequence[int] | None,
    dry_run: bool,
    rules: Sequence[str] = DEFAULT_RULES,
) -> Accepted:
    """Resolve each group (``group_ids``, or every open group of ``tier``) as suggested;
    ``dry_run`` counts the same without deciding. The groups of one tier share no photo, so
    what the dry run counts is what the real run does."""
    if tier == Tier.SIMILAR:
        raise Invalid(
            "similar groups are other shots of one scene, not copies: pick the best shot of "
            "each by hand"
        )
    ids = open_group_ids(session, owner_id, tier) if group_ids is None else sorted(set(group_ids))
    done = Accepted()
    for start in range(0, len(ids), CHUNK):
        groups = _groups(session, owner_id, tier, ids[start : start + CHUNK])
        for shown in views(session, groups, rules):
            if shown.keeper is None or len(shown.images) < 2:
                continue  # emptied meanwhile: nothing to accept
            keep = shown.keeper.image_id
            trash = sorted(i.id for i in shown.images if i.id is not None and i.id != keep)
            done.groups += 1
            done.images_trashed += len(trash)
            done.bytes_freed += bytes_freed(shown)
            if not dry_run:
                decision = resolve_shown(session, owner_id, shown, [keep], trash)
                assert decision.id is not None
                done.decision_ids.append(decision.id)
    return done


def _groups(session: Session, owner_id: int, tier: Tier, ids: list[int]) -> list[DuplicateGroup]:
    rows = {
        g.id: g
        for g in session.exec(
            owned_query(DuplicateGroup, owner_id).where(col(DuplicateGroup.id).in_(ids))
        )
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"group(s) {missing} were not found")
    other = [i for i in ids if rows[i].tier != tier]
    if other:
        raise Invalid(f"group(s) {other} are not {tier.value} groups")
    closed = [i for i in ids if rows[i].status != GroupStatus.OPEN]
    if closed:
        raise Conflict(f"group(s) {closed} were already decided")
    return [rows[i] for i in ids]
