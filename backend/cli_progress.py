"""The command line's progress: a bar on a terminal, plain lines in a log or a pipe.

A bar is redrawn in place up to ten times a second; written to a file (``dupfinder scan ...
2> scan.log``, cron, a CI log) every redraw is kept, and the log fills with hundreds of
copies of one line. There a phase gets a line when it starts, one every ``LINE_EVERY_S``
while it runs, and one when it ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

LINE_EVERY_S = 5.0


class Progress(Protocol):
    def __call__(self, phase: str, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def __call__(self, phase: str, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    def __init__(self, unit: str, stream: TextIO) -> None:
        self._unit, self._stream = unit, stream
        self._bar: Any = None  # drawn at the first phase, under its name
        self._phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total or None,
                desc=phase,
                unit=self._unit,
                file=self._stream,
                dynamic_ncols=True,
            )
            self._phase = phase
        bar = self._bar
        if phase != self._phase:  # each phase counts from 0 to its own total
            self._phase = phase
            bar.set_description(phase, refresh=False)
            bar.reset(total=total or None)
        bar.total = total or None
        bar.update(done - bar.n)  # tqdm redraws at most ten times a second
        if total and done >= total:
            bar.refresh()  # a phase's end is shown before the next one starts

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Lines:
    def __init__(
        self, unit: str, stream: TextIO, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._unit, self._stream, self._clock = unit, stream, clock
        self._phase = ""
        self._said_at = 0.0
        self._ended = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self._clock()
        started = phase != self._phase
        if started:
            self._phase, self._ended = phase, False
        ended = total > 0 and done >= total
        if started or (ended and not self._ended) or now - self._said_at >= LINE_EVERY_S:
            self._ended = ended
            self._said_at = now
            count = f"{done} of {total}" if total else f"{done}"
            self._stream.write(f"{phase}: {count} {self._unit}{', done' if ended else ''}\n")
            self._stream.flush()

    def close(self) -> None:
        pass


def progress_display(unit: str, quiet: bool, stream: TextIO | None = None) -> Progress:
    """What shows a command's progress on ``stream`` (standard error by default)."""
    out = stream if stream is not None else sys.stderr
    if quiet:
        return _Silent()
    if out.isatty():
        return _Bar(unit, out)
    return _Lines(unit, out)
