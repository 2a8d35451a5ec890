"""Use cases: a person resolves a group (keep some, trash others) or dismisses it.

Decisions are stored per pair, so regrouping can never bring a decided group back.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from sqlmodel import Session

from backend.core.grouping import Edge, Tier, components, pair
from backend.models import (
    DuplicateGroup,
    GroupDecision,
    GroupStatus,
    Image,
    PairDecision,
    Verdict,
    utcnow,
)
from backend.services.errors import Conflict, Invalid
from backend.services.grouping.marks import mark_for_regroup
from backend.services.grouping.queries import GroupView, get_group, view
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import GROUP


def _decide_pairs(
    session: Session, owner_id: int, pairs: Iterable[tuple[int, int]], verdict: Verdict
) -> None:
    for a, b in pairs:
        key = pair(a, b)
        if session.get(PairDecision, key) is None:
            session.add(
                PairDecision(owner_id=owner_id, image_a=key[0], image_b=key[1], verdict=verdict)
            )


def _open_view(session: Session, owner_id: int, group_id: int, seen: list[int] | None) -> GroupView:
    group = get_group(session, owner_id, group_id)
    if group.status != GroupStatus.OPEN:
        raise Conflict(f"group {group_id} was already {group.status.value}")
    shown = view(session, group)
    if seen is not None and set(seen) != {i.id for i in shown.images}:
        # Group ids stay put while copies arrive and leave: decide only on what was seen.
        raise Conflict(
            f"group {group_id} has changed since it was shown; reload it and decide again"
        )
    return shown


def _pairs_to_record(shown: GroupView, ids: list[int]) -> list[tuple[int, int]]:
    """Pairs among ``ids`` that a decision on this group covers. In a near group, copies with
    identical pixels stay duplicates of each other (their exact group decides on them)."""
    copies_of: dict[int, frozenset[int]] = {}
    if shown.group.tier != Tier.EXACT:
        identical = [
            Edge(p.image_a, p.image_b, p.tier) for p in shown.pairs if p.tier == Tier.EXACT
        ]
        copies_of = {m: frozenset(c) for c in components(identical) for m in c}
    return [(a, b) for a, b in combinations(sorted(ids), 2) if b not in copies_of.get(a, ())]


def resolve(
    session: Session,
    owner_id: int,
    group_id: int,
    keep: list[int],
    trash: list[int],
    seen: list[int] | None = None,
) -> GroupDecision:
    """Trash ``trash``; every other member is kept (named in ``keep`` or not), and kept images
    are not grouped together again: the group's question is answered. ``seen``: the members
    the person was shown; if the group has changed since, nothing is done (409)."""
    return resolve_shown(
        session, owner_id, _open_view(session, owner_id, group_id, seen), keep, trash
    )


def resolve_shown(
    session: Session, owner_id: int, shown: GroupView, keep: list[int], trash: list[int]
) -> GroupDecision:
    """``resolve`` of an open group as read by the caller (in this transaction)."""
    assert shown.group.id is not None
    group_id = shown.group.id
    members = {i.id: i for i in shown.images if i.id is not None}
    unknown = sorted((set(keep) | set(trash)) - set(members))
    if unknown:
        raise Invalid(f"image(s) {unknown} are not in group {group_id}")
    if set(keep) & set(trash):
        raise Invalid("an image cannot be both kept and trashed")
    if not keep:
        raise Invalid("keep at least one image: resolving never trashes every copy")
    now = utcnow()
    for image_id in set(trash):
        image: Image = members[image_id]
        image.trashed_at = now
        session.add(image)
    kept = sorted(set(members) - set(trash))
    if shown.group.tier != Tier.SIMILAR:  # copies of one photo: what one knew, all knew
        for image_id in kept:
            carry_over(members[image_id], [members[i] for i in sorted(set(trash))])
            session.add(members[image_id])
    _decide_pairs(session, owner_id, _pairs_to_record(shown, kept), Verdict.KEEP_BOTH)
    return _close(session, shown.group, GroupStatus.RESOLVED, kept, sorted(trash))


def carry_over(keeper: Image, trashed: list[Image]) -> list[str]:
    """Give the kept copy what the trashed copies knew and it does not (capture time, place,
    camera, the link back to Google Photos, albums); returns the fields filled in."""
    filled: list[str] = []
    for gone in trashed:
        if keeper.taken_at is None and gone.taken_at is not None:
            keeper.taken_at, keeper.taken_subsec = gone.taken_at, gone.taken_subsec
            filled.append("taken_at")
        if keeper.latitude is None and gone.latitude is not None and gone.longitude is not None:
            keeper.latitude, keeper.longitude = gone.latitude, gone.longitude
            filled.append("location")
        if keeper.camera_model is None and gone.camera_model is not None:
            keeper.camera_make, keeper.camera_model = gone.camera_make, gone.camera_model
            filled.append("camera")
        if keeper.source_url is None and gone.source_url is not None:
            keeper.source_url = gone.source_url
            filled.append("source_url")
        if keeper.description is None and gone.description is not None:
            keeper.description = gone.description
            filled.append("description")
        more = [a for a in gone.albums if a not in keeper.albums]
        if more:
            keeper.albums = [*keeper.albums, *more]  # a new list: the JSON column sees it
            filled.append("albums")
    return filled


def dismiss(
    session: Session, owner_id: int, group_id: int, seen: list[int] | None = None
) -> GroupDecision:
    """ "Not duplicates": the members are not grouped together again (see _pairs_to_record)."""
    shown = _open_view(session, owner_id, group_id, seen)
    ids = [i.id for i in shown.images if i.id is not None]
    _decide_pairs(session, owner_id, _pairs_to_record(shown, ids), Verdict.NOT_DUPLICATE)
    return _close(session, shown.group, GroupStatus.DISMISSED, ids, [])


def _close(
    session: Session,
    group: DuplicateGroup,
    status: GroupStatus,
    keep: list[int],
    trash: list[int],
) -> GroupDecision:
    owner_id = group.owner_id
    group.status = status
    group.updated_at = utcnow()
    session.add(group)
    decision = GroupDecision(
        owner_id=owner_id, group_id=group.id, action=status, keep=sorted(keep), trash=sorted(trash)
    )
    session.add(decision)
    session.flush()
    # Regrouping is serialised per owner; it runs once the decision has committed.
    mark_for_regroup(session, owner_id, [*keep, *trash])
    enqueue_job(session, GROUP, owner_id=owner_id)
    return decision
