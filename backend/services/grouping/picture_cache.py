"""Pictures ready for verification, kept between grouping runs of this process.

A scan or an upload groups in many small runs; a library picture that pairs with new photos in
one run usually pairs again in the next, and decoding it and finding its keypoints again costs
more than verifying the pair. Kept by blob key (a blob's content never changes), least
recently used first out, within a fixed memory budget.

The models decode every new picture at the size verification compares at, shortly before the
grouping verifies its pairs: its grey pixels wait here (``REDUCED``) so that verification does
not decode it again.
"""

from __future__ import annotations

from backend.core.verify import Grey, Prepared
from backend.services.grouping.sized_cache import SizedCache

# About 650 pictures at 512 px with their keypoints. With 48 MB (250), a scan of the 588
# benchmark images prepared 793 pictures for 509 needed (decode and keypoints again, about
# 15 ms each): copies of one photo arrive in different grouping runs.
BUDGET_BYTES = 160 * 1024 * 1024
# About 160 pictures at 512 px: more than the models' batches run ahead of the grouping.
REDUCED_BUDGET_BYTES = 32 * 1024 * 1024


def _size(picture: Prepared) -> int:
    size = picture.grey.nbytes + picture.keypoints.nbytes
    return size + (picture.descriptors.nbytes if picture.descriptors is not None else 0)


class PreparedPictures(SizedCache[Prepared]):
    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        super().__init__(budget, _size)


class ReducedPictures(SizedCache[Grey]):
    def __init__(self, budget: int = REDUCED_BUDGET_BYTES) -> None:
        super().__init__(budget, lambda grey: int(grey.nbytes))


PICTURES = PreparedPictures()
REDUCED = ReducedPictures()
