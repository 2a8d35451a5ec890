from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CtxDep, CurrentUser, SessionDep, answer, owner_id
from backend.api.params import GroupId, PageNo
from backend.api.schemas import (
    AcceptIn,
    AcceptOut,
    DecisionOut,
    DismissIn,
    ErrorOut,
    GroupCountsOut,
    GroupOut,
    ImageOut,
    KeeperOut,
    Page,
    PairOut,
    ResolveIn,
)
from backend.core.explain import explain_pair
from backend.core.grouping import Tier
from backend.services import bulk, decisions
from backend.services.grouping.queries import (
    SUGGESTED_ACTION,
    GroupSort,
    GroupView,
    bytes_freed,
    count_groups,
    get_group,
    list_groups,
    view,
)
from backend.services.objects import tags

router = APIRouter(prefix="/duplicates", tags=["duplicates"])
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}


def _out(v: GroupView) -> GroupOut:
    assert v.group.id is not None
    member_tags = {i: tags(v.objects.get(i, [])) for i in v.objects}
    counts = Counter(t for ts in member_tags.values() for t in ts)
    pairs = []
    for p in v.pairs:
        shared = [t for t in member_tags.get(p.image_a, []) if t in member_tags.get(p.image_b, [])]
        pairs.append(
            PairOut(
                image_a=p.image_a,
                image_b=p.image_b,
                tier=p.tier,
                hash_distance=p.distance,
                copy_similarity=p.copy_similarity,
                semantic_similarity=p.semantic_similarity,
                shared_objects=shared,
                verdict=p.verdict,
                decided_by=p.decided_by,
                explanation=explain_pair(
                    p.tier,
                    p.distance,
                    p.copy_similarity,
                    p.semantic_similarity,
                    shared,
                    p.decided_by,
                ),
            )
        )
    return GroupOut(
        id=v.group.id,
        tier=v.group.tier,
        status=v.group.status,
        images=[ImageOut.of(i, v.objects.get(i.id or 0, [])) for i in v.images],
        suggested_keep=(
            KeeperOut(image_id=v.keeper.image_id, reasons=v.keeper.reasons) if v.keeper else None
        ),
        pairs=pairs,
        tags=sorted(counts, key=lambda t: (-counts[t], t)),
        suggested_action=SUGGESTED_ACTION[v.group.tier],
        bytes_freed=bytes_freed(v),
    )


@router.get("/groups", response_model=Page[GroupOut])
async def groups(
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    tier: Tier | None = None,
    object: Annotated[
        str | None, Query(max_length=64, description="only groups where a member shows this")
    ] = None,
    page: PageNo = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    sort: Annotated[
        GroupSort | None,
        Query(description="space: most to free first; size: most photos; date: newest photos"),
    ] = None,
) -> Page[GroupOut]:
    def work() -> Page[GroupOut]:
        rules = ctx.settings.keeper_rules
        views, total = list_groups(session, owner_id(user), tier, page, size, object, rules, sort)
        return Page(items=[_out(v) for v in views], total=total, page=page, size=size)

    return await answer(ctx, work)


@router.get("/groups/counts", response_model=GroupCountsOut)
async def counts(user: CurrentUser, session: SessionDep, ctx: CtxDep) -> GroupCountsOut:
    """Open groups shown per tier (for the tier tabs)."""

    def work() -> GroupCountsOut:
        found = count_groups(session, owner_id(user))
        return GroupCountsOut(**{tier.value: n for tier, n in found.items()})

    return await answer(ctx, work)


@router.post("/groups/accept", response_model=AcceptOut, responses=ERRORS)
def accept(body: AcceptIn, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> AcceptOut:
    """Accept the suggestion of each group (``group_ids``, or the whole tier): keep the
    suggested copy, trash the others. ``dry_run`` says what it would do. Similar groups are
    refused (422): pick the best shot by hand."""
    done = bulk.accept(
        session, owner_id(user), body.tier, body.group_ids, body.dry_run, ctx.settings.keeper_rules
    )
    return AcceptOut(
        groups=done.groups,
        images_trashed=done.images_trashed,
        bytes_freed=done.bytes_freed,
        decision_ids=done.decision_ids,
    )


@router.get("/groups/{group_id:int}", response_model=GroupOut, responses=ERRORS)
def group(group_id: GroupId, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> GroupOut:
    shown = get_group(session, owner_id(user), group_id)
    return _out(view(session, shown, ctx.settings.keeper_rules))


@router.post("/groups/{group_id:int}/resolve", response_model=DecisionOut, responses=ERRORS)
def resolve(
    group_id: GroupId, body: ResolveIn, user: CurrentUser, session: SessionDep
) -> DecisionOut:
    return DecisionOut.of(
        decisions.resolve(session, owner_id(user), group_id, body.keep, body.trash, body.seen)
    )


@router.post("/groups/{group_id:int}/dismiss", response_model=DecisionOut, responses=ERRORS)
def dismiss(
    group_id: GroupId,
    user: CurrentUser,
    session: SessionDep,
    body: DismissIn | None = None,
) -> DecisionOut:
    seen = body.seen if body else None
    return DecisionOut.of(decisions.dismiss(session, owner_id(user), group_id, seen))
