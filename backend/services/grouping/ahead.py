"""The candidate pairs found before the owner's lock, and whether they still hold under it.

Gathering a batch's candidates (index searches, rows read) is most of what the comparison did
under the lock. It is done before (prepare.py), with a mark of the library taken first; under
the lock (compare.py) the mark is read again, and if the library gained no image since, the
pairs are used as they are, less those with an image that has left. A run that committed
meanwhile (another worker, its own batch) changes the mark: the pairs are gathered again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import Image
from backend.services.context import AppContext
from backend.services.grouping.candidates import Found, Known, gather, grouped

Mark = tuple[int, frozenset[int]]  # the last grouping run, and its images and later ones'


@dataclass(frozen=True)
class Gathered:
    """A ``gather`` made before the owner's lock, with the library's mark taken before the
    digests its pairs use were computed (``library_mark``)."""

    batch: frozenset[int]  # the new images it compared
    found: Found
    known: dict[int, Known]
    mark: Mark


def library_mark(session: Session, owner_id: int, seq: int | None = None) -> Mark:
    """The owner's last grouping run (or ``seq``) and the images, in any state, grouped in it
    or later. A run that commits after this makes its images READY with a later number (the
    highest one plus one): it joins this set, unless every image of the set was deleted first,
    which changes the set too (ids are never reused). So an unchanged set means the library
    gained no image."""
    if seq is None:
        last = session.execute(
            sa.select(sa.func.max(col(Image.grouped_seq))).where(col(Image.owner_id) == owner_id)
        ).scalar()
        seq = int(last or 0)
    tail = session.execute(
        sa.select(col(Image.id)).where(
            col(Image.owner_id) == owner_id, col(Image.grouped_seq) >= seq
        )
    ).scalars()
    return seq, frozenset(tail)


def gather_ahead(
    session: Session, ctx: AppContext, owner_id: int, new: list[Image], mark: Mark
) -> Gathered:
    """``gather`` before the lock. Only stored digests are used: ``mark`` was taken before
    the prepare phase computed those its library's pairs need, so an image grouped since
    then (whose digest may be missing) changes the mark, and the pairs are gathered again."""
    found, known, _ = gather(session, ctx, owner_id, new, lambda k: k.pixel_hash)
    batch = frozenset(i.id for i in new if i.id is not None)
    return Gathered(batch, found, known, mark)


def still_current(
    session: Session, owner_id: int, new: list[Image], earlier: Gathered
) -> tuple[Found, dict[int, Known]] | None:
    """Under the lock: ``earlier``'s pairs and images when the library has gained no image
    since its mark (None otherwise: gather again), less the pairs with an image that has left
    the library since (deleted, or sent back to the models)."""
    ids = {i.id for i in new if i.id is not None}
    seq, tail = earlier.mark
    if not ids <= earlier.batch or library_mark(session, owner_id, seq)[1] != tail:
        return None
    keep = ids | set(grouped(session, owner_id, set(earlier.known) - earlier.batch))
    found = {p: ev for p, ev in earlier.found.items() if p[0] in keep and p[1] in keep}
    return found, {i: k for i, k in earlier.known.items() if i in keep}
