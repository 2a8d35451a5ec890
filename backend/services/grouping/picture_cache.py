"""Pictures ready for verification, kept between grouping runs of this process.

A scan or an upload groups in many small runs; a library picture that pairs with new photos in
one run usually pairs again in the next, and decoding it and finding its keypoints again costs
more than verifying the pair. Kept by blob key (a blob's content never changes), least
recently used first out, within a fixed memory budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from backend.core.verify import Prepared

BUDGET_BYTES = 48 * 1024 * 1024  # about 250 pictures at 512 px with their keypoints


def _size(picture: Prepared) -> int:
    size = picture.grey.nbytes + picture.keypoints.nbytes
    return size + (picture.descriptors.nbytes if picture.descriptors is not None else 0)


class PreparedPictures:
    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self._budget = budget
        self._used = 0
        self._items: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Prepared | None]) -> Prepared | None:
        """The picture under ``key``, made (outside the lock) and kept when missing. A picture
        that could not be read is not kept: it may be readable next time."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = make()
        if made is None:
            return None
        size = _size(made)
        with self._lock:
            if key not in self._items and size <= self._budget:
                self._items[key] = made
                self._used += size
                while self._used > self._budget:
                    _, dropped = self._items.popitem(last=False)
                    self._used -= _size(dropped)
        return made

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


PICTURES = PreparedPictures()
