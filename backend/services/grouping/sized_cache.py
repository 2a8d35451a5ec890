"""A least-recently-used cache within a budget, shared by the grouping's caches (pictures,
verdicts). Plain Python: holding one loads nothing heavy."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class SizedCache[T]:
    """Least recently used first out, within ``budget``: the sum of ``size`` of the items
    (their bytes, or 1 each to count them)."""

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
