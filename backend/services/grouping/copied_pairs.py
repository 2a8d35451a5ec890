"""A pair whose two pictures have byte copies that were verified against each other before (in
another run or another process: the verdict cache only holds this process's) takes that
verdict: the bytes decide it, and the copies of one pair never disagree.

Only what verification decided is taken. A pair called two shots by its capture data (EXIF,
or a source's metadata where EXIF is silent) is decided by facts of its own rows, which a
byte copy from another source need not share.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import batched

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.core.verify import Verdict
from backend.models import Image, ImagePair
from backend.services.grouping.verdict_cache import content_pair


def contents_with_copies(session: Session, owner_id: int, shas: Iterable[str | None]) -> set[str]:
    """Those of these contents that more than one of the owner's images has: a pair with no
    copies costs no search."""
    wanted = sorted({s for s in shas if s is not None})
    if not wanted:
        return set()
    rows = session.execute(
        sa.select(col(Image.content_sha256))
        .where(col(Image.owner_id) == owner_id, col(Image.content_sha256).in_(wanted))
        .group_by(col(Image.content_sha256))
        .having(sa.func.count() > 1)
    )
    return {str(sha) for (sha,) in rows}


def stored_verdicts(
    session: Session,
    owner_id: int,
    wanted: dict[tuple[int, int], tuple[str | None, str | None]],
) -> dict[tuple[int, int], ImagePair]:
    """For each pair of ``wanted`` (the contents of its two pictures by its key): its own
    stored row with a verdict, or else the stored pair of byte copies of its two pictures
    that verification decided (the first by ids: the same one every time). Pairs with
    neither are left out. A few queries a run, however many pairs."""
    out: dict[tuple[int, int], ImagePair] = {}
    for chunk in batched(sorted(wanted), 500):
        own = session.execute(
            sa.select(ImagePair).where(
                col(ImagePair.owner_id) == owner_id,
                sa.tuple_(col(ImagePair.image_a), col(ImagePair.image_b)).in_(chunk),
                col(ImagePair.verdict).is_not(None),
            )
        )
        out.update(((row.image_a, row.image_b), row) for row in own.scalars())
    rest = {k: content_pair(*shas) for k, shas in wanted.items() if k not in out}
    copied = contents_with_copies(session, owner_id, (s for p in rest.values() if p for s in p))
    wanted_now = {k: p for k, p in rest.items() if p is not None and set(p) & copied}
    if not wanted_now:
        return out
    rows = session.execute(
        sa.select(col(Image.id), col(Image.content_sha256)).where(
            col(Image.owner_id) == owner_id,
            col(Image.content_sha256).in_(sorted({s for p in wanted_now.values() for s in p})),
        )
    )
    content = {int(image_id): str(sha) for image_id, sha in rows}
    ids = sorted(content)
    by_contents: dict[tuple[str, str], ImagePair] = {}
    for row in session.execute(
        sa.select(ImagePair)
        .where(
            col(ImagePair.owner_id) == owner_id,
            col(ImagePair.image_a).in_(ids),
            col(ImagePair.image_b).in_(ids),
            col(ImagePair.verdict).is_not(None),
            # Not the capture data's "two shots" (no share explained: see above).
            sa.not_(
                sa.and_(
                    col(ImagePair.verdict) == Verdict.OTHER_SHOT.value,
                    col(ImagePair.explained).is_(None),
                )
            ),
        )
        .order_by(col(ImagePair.image_a), col(ImagePair.image_b))
    ).scalars():
        pair = content_pair(content[row.image_a], content[row.image_b])
        if pair is not None:
            by_contents.setdefault(pair, row)
    for key, pair in wanted_now.items():
        if pair in by_contents:
            out[key] = by_contents[pair]
    return out
