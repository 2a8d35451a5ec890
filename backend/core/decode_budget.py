"""How much memory decoding pictures may take in one process, and giving it back afterwards.

Every decode asks the process's :data:`GATE` for the bytes its pixels will occupy before it
allocates them. The gate lets decodes run side by side while their pixels fit in the budget
and makes the others wait, so more worker threads do not multiply the peak. One picture that
alone needs more than the budget is never decoded at full size (the caller says why).

The gate is process-wide on purpose: the memory it guards is the process's, shared by every
thread and every runtime in it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Bytes Pillow keeps per pixel for a mode (it pads RGB and two-band modes to four bytes).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Decodes under this size leave no lasting footprint worth a trim of the heap.
_TRIM_FROM = 32 * 1024 * 1024
# Large blocks (Pillow allocates 16 MiB blocks) always come from mmap, so freeing them gives
# the memory back at once; glibc would otherwise raise its threshold after the first free
# and serve later blocks from heaps it rarely shrinks ("RSS stays at 5.9 GB when idle").
_MMAP_THRESHOLD = 1024 * 1024
_M_MMAP_THRESHOLD = -3


def pixel_bytes(mode: str, size: tuple[int, int]) -> int:
    """The memory Pillow takes for an image of this mode and size."""
    return _BYTES_PER_PIXEL.get(mode, 4) * size[0] * size[1]


class _Allocator:
    """glibc's malloc controls, where there are (none elsewhere: the calls do nothing)."""

    def __init__(self) -> None:
        self._libc: ctypes.CDLL | None = None
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
        if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt"):
            self._libc = libc
        self._tuned = False
        self._lock = threading.Lock()

    def tune(self) -> None:
        with self._lock:
            if self._libc is not None and not self._tuned:
                self._libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            self._tuned = True

    def trim(self) -> None:
        """Hand the free memory of every malloc arena back to the system."""
        if self._libc is not None:
            self._libc.malloc_trim(0)


ALLOCATOR = _Allocator()


class MemoryGate:
    """A semaphore weighted in bytes: holders together stay within ``capacity`` (one holder
    alone may use all of it)."""

    def __init__(self) -> None:
        self._used = 0
        self._holders = 0
        self._cond = threading.Condition()
        self.peak = 0  # the most held at once, for tests and the benchmark

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def hold(self, nbytes: int, capacity: int) -> Iterator[None]:
        ALLOCATOR.tune()
        nbytes = max(0, min(nbytes, capacity))
        with self._cond:
            while self._holders and self._used + nbytes > capacity:
                self._cond.wait()
            self._used += nbytes
            self._holders += 1
            self.peak = max(self.peak, self._used)
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._holders -= 1
                self._cond.notify_all()
            if nbytes >= _TRIM_FROM:
                ALLOCATOR.trim()


GATE = MemoryGate()
