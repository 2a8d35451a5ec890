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

import threading
from collections import OrderedDict
from collections.abc import Callable

from backend.core.verify import Grey, Prepared

# About 650 pictures at 512 px with their keypoints. With 48 MB (250), a scan of the 588
# benchmark images prepared 793 pictures for 509 needed (decode and keypoints again, about
# 15 ms each): copies of one photo arrive in different grouping runs.
BUDGET_BYTES = 160 * 1024 * 1024
# About 160 pictures at 512 px: more than the models' batches run ahead of the grouping.
REDUCED_BUDGET_BYTES = 32 * 1024 * 1024


def _size(picture: Prepared) -> int:
    size = picture.grey.nbytes + picture.keypoints.nbytes
    return size + (picture.descriptors.nbytes if picture.descriptors is not None else 0)


class _SizedCache[T]:
    """Least recently used first out, within ``budget`` bytes (``size`` of each item)."""

    def __init__(self, budget: int, size: Callable[[T], int]) -> None:
        self._budget = budget
        self._sizeof = size
        self._used = 0
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], T | None]) -> T | None:
        """The item under ``key``, made (outside the lock) and kept when missing. An item
        that could not be made is not kept: it may be made next time."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = make()
        if made is not None:
            self.put(key, made)
        return made

    def put(self, key: str, item: T) -> None:
        size = self._sizeof(item)
        with self._lock:
            if key in self._items or size > self._budget:
                return
            self._items[key] = item
            self._used += size
            while self._used > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._used -= self._sizeof(dropped)

    def take(self, key: str) -> T | None:
        """The item under ``key``, no longer kept; None when it is not."""
        with self._lock:
            found = self._items.pop(key, None)
            if found is not None:
                self._used -= self._sizeof(found)
            return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class PreparedPictures(_SizedCache[Prepared]):
    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        super().__init__(budget, _size)


class ReducedPictures(_SizedCache[Grey]):
    def __init__(self, budget: int = REDUCED_BUDGET_BYTES) -> None:
        super().__init__(budget, lambda grey: int(grey.nbytes))


PICTURES = PreparedPictures()
REDUCED = ReducedPictures()
