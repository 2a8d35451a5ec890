"""Verification verdicts kept by the two pictures' contents, for this process.

A verdict depends on nothing but the two pictures' bytes: a byte copy of a picture already
verified against another (a folder and its backup, a photo uploaded twice) takes that verdict
without decoding or comparing anything again, and the copies of one pair never disagree.
Either order of the two takes the one verdict, for that reason. Kept per owner: one person's
pictures never answer for another's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.services.grouping.sized_cache import SizedCache

if TYPE_CHECKING:  # the context holds a cache at every start: OpenCV loads with the verifier
    from backend.core.verify import Verification

# A verdict is a few hundred bytes: this many is a few MB, more pairs than a scan of tens of
# thousands of photos verifies between two copies of one picture arriving.
LIMIT = 20_000


def content_pair(sha_a: str | None, sha_b: str | None) -> tuple[str, str] | None:
    """The key of two contents, in either order; None when a content is unknown or the two
    are one (identical pictures are not verified)."""
    if sha_a is None or sha_b is None or sha_a == sha_b:
        return None
    return (sha_a, sha_b) if sha_a < sha_b else (sha_b, sha_a)


class VerdictCache:
    """Least recently used first out, ``limit`` verdicts at most."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._items: SizedCache[Verification] = SizedCache(limit, lambda _: 1)

    def get(self, owner_id: int, sha_a: str | None, sha_b: str | None) -> Verification | None:
        pair = content_pair(sha_a, sha_b)
        return None if pair is None else self._items.get(f"{owner_id}:{pair}", lambda: None)

    def put(
        self, owner_id: int, sha_a: str | None, sha_b: str | None, verdict: Verification
    ) -> None:
        pair = content_pair(sha_a, sha_b)
        if pair is not None:
            self._items.put(f"{owner_id}:{pair}", verdict)

    def __len__(self) -> int:
        return len(self._items)
