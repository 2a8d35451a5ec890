"""Task handlers for the analysis-process tests. They run in a child process, found there by
their module path like the real ones; each leaves its traces in files the test reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa

from backend.services.context import AppContext


def _attempt(marker: str) -> int:
    """Count this run in ``marker`` (one line per run, with the process id)."""
    path = Path(marker)
    runs = path.read_text().splitlines() if path.exists() else []
    runs.append(str(os.getpid()))
    path.write_text("\n".join(runs) + "\n")
    return len(runs)


def record(ctx: AppContext, marker: str) -> None:
    _attempt(marker)


def send_follow_up(ctx: AppContext, marker: str) -> None:
    _attempt(marker)
    ctx.jobs.enqueue("test.record", marker=marker + ".next")


def die_once(ctx: AppContext, marker: str) -> None:
    if _attempt(marker) == 1:
        os._exit(1)  # as the OOM killer would end it: no clean-up, no answer


def always_die(ctx: AppContext, marker: str) -> None:
    _attempt(marker)
    os._exit(1)


def locked_twice(ctx: AppContext, marker: str) -> None:
    if _attempt(marker) <= 2:
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))


def broken(ctx: AppContext, marker: str) -> None:
    _attempt(marker)
    raise ValueError("not a picture this code understands")


class _TwoPart(Exception):
    """An exception pickle cannot rebuild (its constructor wants two arguments)."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def unpicklable(ctx: AppContext, marker: str) -> None:
    _attempt(marker)
    raise _TwoPart("a decoder", "gave up in a way of its own")


def outlive(ctx: AppContext, marker: str, other: str) -> None:
    """Run until the task writing ``other`` has been and gone (a sibling that dies)."""
    _attempt(marker)
    deadline = time.monotonic() + 30
    while not Path(other).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the other child is dead by now
