"""A pair whose two pictures have byte copies that were verified against each other before (in
another run or another process: the verdict cache only holds this process's) takes that
verdict: the bytes decide it, and the copies of one pair never disagree.

Only what verification decided is taken. A pair called two shots by its capture data (EXIF,
or a source's metadata where EXIF is silent) is decided by facts of its own rows, which a
byte copy from another source need not share.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.core.verify import Verdict
from backend.models import Image, ImagePair


def contents_with_copies(session: Session, owner_id: int, shas: Iterable[str | None]) -> set[str]:
    """Those of these contents that more than one of the owner's images has: one query a
    run, so a pair with no copies costs no search."""
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


def stored_pair(
    session: Session,
    owner_id: int,
    key: tuple[int, int],
    shas: tuple[str | None, str | None],
    copied: set[str],
) -> ImagePair | None:
    """The stored verdict of this pair, or else of a pair of byte copies of its two pictures
    (``shas``: their contents; ``copied``: the contents with copies, contents_with_copies)."""
    own = session.get(ImagePair, key)
    if own is not None and own.verdict is not None:
        return own
    sha_a, sha_b = shas
    if sha_a is None or sha_b is None or sha_a == sha_b or not {sha_a, sha_b} & copied:
        return own
    twins: dict[str, list[int]] = {sha_a: [], sha_b: []}
    for image_id, sha in session.execute(
        sa.select(col(Image.id), col(Image.content_sha256)).where(
            col(Image.owner_id) == owner_id, col(Image.content_sha256).in_((sha_a, sha_b))
        )
    ):
        twins[sha].append(image_id)
    twin = session.execute(
        sa.select(ImagePair)
        .where(
            col(ImagePair.verdict).is_not(None),
            # Not the capture data's "two shots" (no share explained: see above).
            sa.not_(
                sa.and_(
                    col(ImagePair.verdict) == Verdict.OTHER_SHOT.value,
                    col(ImagePair.explained).is_(None),
                )
            ),
            sa.or_(
                sa.and_(
                    col(ImagePair.image_a).in_(twins[sha_a]),
                    col(ImagePair.image_b).in_(twins[sha_b]),
                ),
                sa.and_(
                    col(ImagePair.image_a).in_(twins[sha_b]),
                    col(ImagePair.image_b).in_(twins[sha_a]),
                ),
            ),
        )
        .order_by(col(ImagePair.image_a), col(ImagePair.image_b))  # the same one every time
        .limit(1)
    ).scalar()
    return twin or own
