"""How much memory decoding pictures may take in one process, and giving it back afterwards.

Every decode asks the process's :data:`GATE` for the bytes its pixels will occupy before it
allocates them. The gate lets decodes run side by side while their pixels fit in the budget
and makes the others wait, so more worker threads do not multiply the peak. One picture that
alone needs more than the budget is never decoded at full size (the caller says why).

The gate is process-wide on purpose: the memory it guards is the process's, shared by every
thread and every runtime in it. When the service analyses in child processes, the gate is
shared with them (``MemoryGate.share``): the budget then holds for the whole service.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import multiprocessing
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Bytes Pillow keeps per pixel for a mode (it pads RGB and two-band modes to four bytes).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Decodes under this size leave no lasting footprint worth a trim of the heap.
_TRIM_FROM = 32 * 1024 * 1024
# Large blocks (Pillow allocates 16 MiB blocks) always come from mmap, so freeing them gives
# the memory back at once; glibc would otherwise raise its threshold after the first free
# and serve later blocks from heaps it rarely shrinks ("RSS stays at 5.9 GB when idle").
# Buffers under 4 MiB (reduced decodes, strips, model inputs) stay in the heap and are used
# again: fresh mmap pages fault one by one (1 MiB here: 20 % more CPU in the kernel).
_MMAP_THRESHOLD = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3
# Setting the threshold above also fixes glibc's trim threshold at its 128 KiB default, so
# each free at the top of a heap handed its pages back, and the next picture's buffers faulted
# them in again, zeroed: about 400k page faults and 1.4 s of kernel time in a 120-picture scan.
# Up to 16 MiB of free heap stays for the next picture (about 245k, 1.0 s); a large decode's
# release still trims everything (``trim``).
_TRIM_THRESHOLD = 16 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
# How often a waiter looks at a budget shared across processes (a decode takes far longer).
_LOOK_AGAIN = 0.02
LOCK_NAME = "decode-budget.lock"


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
                self._libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
            self._tuned = True

    def trim(self) -> None:
        """Hand the free memory of every malloc arena back to the system."""
        if self._libc is not None:
            self._libc.malloc_trim(0)


ALLOCATOR = _Allocator()


class MemoryGate:
    """A semaphore weighted in bytes: holders together stay within ``capacity`` (one holder
    alone may use all of it).

    Holders are slots of (process id, bytes). In one process they are plain lists; ``share``
    puts them in shared memory for this process and the child processes that ``adopt`` the
    handle, so decodes in several analysis processes count together. Across processes the slots
    are guarded by ``flock`` on a file, which the kernel releases when its holder dies, and a
    waiter in another process looks again every few milliseconds: no lock or condition of
    multiprocessing's, whose semaphores stay taken (and whose ``notify`` waits for ever) when a
    process is killed inside them. A holder whose process died (a crash, the OOM killer) is
    released by the next one that looks."""

    def __init__(self, slots: int = 64) -> None:
        self._local = threading.Condition()  # the threads of this process, one at a time
        self._slots: tuple[Any, Any, int | None] = ([0] * slots, [0] * slots, None)
        self.peak = 0  # the most held at once seen by this process, for tests and benchmarks
        self._handle: tuple[str, Any, Any] | None = None

    def share(self, directory: Path) -> tuple[str, Any, Any]:
        """Make the gate span this process and the children given the handle (a spawned
        child gets it through its start arguments). The lock file is ``directory``'s
        ``decode-budget.lock``: one fixed, empty file, never deleted (a temp cleaner cannot
        take it from a running service, and a killed service leaves no new one behind; two
        services on one folder merely take turns looking at their slots). Shared once:
        later calls, the same."""
        if self._handle is None:
            ctx = multiprocessing.get_context("spawn")
            slots = len(self._slots[0])
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = directory / LOCK_NAME
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            with self._local:  # whoever holds the local gate now releases into the old lists
                self.adopt((str(path), ctx.RawArray("q", slots), ctx.RawArray("q", slots)))
        assert self._handle is not None
        return self._handle

    def adopt(self, handle: tuple[str, Any, Any]) -> None:
        path, pids, sizes = handle
        self._slots = (pids, sizes, os.open(path, os.O_RDWR | os.O_CLOEXEC))
        self._handle = handle

    @property
    def used(self) -> int:
        with self._local:
            slots = self._slots
            with _exclusive(slots[2]):
                return int(sum(slots[1]))

    @contextmanager
    def hold(self, nbytes: int, capacity: int) -> Iterator[None]:
        ALLOCATOR.tune()
        nbytes = max(0, min(nbytes, capacity))
        with self._local:
            while True:
                pids, sizes, lock = self._slots  # released where taken
                with _exclusive(lock):
                    self._release_the_dead(pids, sizes)
                    used = int(sum(sizes))
                    slot = next((i for i, pid in enumerate(pids) if not pid), None)
                    if slot is not None and (not any(pids) or used + nbytes <= capacity):
                        pids[slot] = os.getpid()
                        sizes[slot] = nbytes
                        break
                # A release in this process wakes the waiters at once; one in another process
                # (or a holder that died) is seen at the next look.
                self._local.wait(timeout=1.0 if lock is None else _LOOK_AGAIN)
            self.peak = max(self.peak, used + nbytes)
        try:
            yield
        finally:
            with self._local:
                with _exclusive(lock):
                    pids[slot] = sizes[slot] = 0
                self._local.notify_all()
            if nbytes >= _TRIM_FROM:
                ALLOCATOR.trim()

    @staticmethod
    def _release_the_dead(pids: Any, sizes: Any) -> None:
        me = os.getpid()
        for slot, pid in enumerate(pids):
            if pid and pid != me and not _alive(pid):
                pids[slot] = sizes[slot] = 0


@contextmanager
def _exclusive(lock: int | None) -> Iterator[None]:
    """The shared slots to this process alone (nothing to do when the gate is not shared)."""
    if lock is None:
        yield
        return
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet waited for, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel whether the id exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


GATE = MemoryGate()
