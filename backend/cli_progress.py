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
from typing import TYPE_CHECKING, NoReturn, Protocol, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

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
        # Made at the first phase, so that its first drawing already bears the phase's name;
        # tqdm is imported there, not at start-up (``--help`` and ``-q`` never need it).
        self._bar: tqdm[NoReturn] | None = None
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
        self._said: tuple[int, int] | None = None  # the phase's (done, total) last written
        self._said_at = 0.0
        self._last: tuple[int, int] | None = None  # ...and last told

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self._clock()
        if phase != self._phase:
            self._phase, self._said = phase, None
        said = self._said
        if said == (done, total):
            return  # nothing new (an ended phase polled again)
        if (
            said is None
            or (total and not said[1])  # the total just became known
            or (total and done >= total)  # the phase ended
            or now - self._said_at >= LINE_EVERY_S
        ):
            self._write(done, total)
            self._said_at = now
        self._last = (done, total)

    def _write(self, done: int, total: int) -> None:
        self._said = (done, total)
        count = f"{done} of {total}" if total else f"{done}"
        ended = ", done" if total and done >= total else ""
        self._stream.write(f"{self._phase}: {count} {self._unit}{ended}\n")
        self._stream.flush()

    def close(self) -> None:
        # A phase with no total (or one cut short) ends on its last count.
        if self._last is not None and self._last != self._said:
            self._write(*self._last)


def progress_display(unit: str, quiet: bool, stream: TextIO | None = None) -> Progress:
    """What shows a command's progress on ``stream`` (standard error by default)."""
    out = stream if stream is not None else sys.stderr
    if quiet:
        return _Silent()
    if out.isatty():
        return _Bar(unit, out)
    return _Lines(unit, out)
