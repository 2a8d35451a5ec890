"""The command line's progress in a log: readable lines, not a bar redrawn in place."""

from __future__ import annotations

import io

from backend.cli_progress import LINE_EVERY_S, _Lines, progress_display


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_per_phase_start_and_end_and_few_between() -> None:
    out, clock = io.StringIO(), _Clock()
    show = _Lines("img", out, clock)
    show("hashing", 0, 500)
    for done in range(1, 500):  # hundreds of updates within a few seconds
        clock.now += 0.01
        show("hashing", done, 500)
    clock.now += LINE_EVERY_S  # a slow stretch: one line says it still moves
    show("hashing", 499, 500)
    show("hashing", 500, 500)
    show("hashing", 500, 500)  # the end said once
    show("grouping", 0, 500)
    assert out.getvalue().splitlines() == [
        "hashing: 0 of 500 img",
        "hashing: 499 of 500 img",
        "hashing: 500 of 500 img, done",
        "grouping: 0 of 500 img",
    ]


def test_an_unknown_total_is_counted_without_one_and_ends_on_its_last_count() -> None:
    out = io.StringIO()
    show = _Lines("file", out, _Clock())
    show("reading the archive", 3, 0)
    show("reading the archive", 40, 0)
    show.close()
    assert out.getvalue().splitlines() == [
        "reading the archive: 3 file",
        "reading the archive: 40 file",
    ]


def test_a_total_that_becomes_known_is_said_at_once() -> None:
    out = io.StringIO()
    show = _Lines("img", out, _Clock())
    show("hashing", 0, 0)  # the scan starts before it has counted the folder
    show("hashing", 0, 12)
    show.close()
    assert out.getvalue().splitlines() == ["hashing: 0 img", "hashing: 0 of 12 img"]


def test_quiet_says_nothing_and_a_pipe_gets_lines() -> None:
    out = io.StringIO()
    progress_display("img", True, out)("hashing", 1, 2)
    assert out.getvalue() == ""
    shown = progress_display("img", False, out)  # StringIO is no terminal
    shown("hashing", 1, 2)
    shown.close()
    assert out.getvalue() == "hashing: 1 of 2 img\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_bar_named_for_each_phase() -> None:
    out = _Terminal()
    shown = progress_display("img", False, out)
    for phase in ("hashing", "grouping"):
        for done in range(4):
            shown(phase, done, 3)
    shown.close()
    text = out.getvalue()
    assert "hashing" in text and "grouping" in text and "3/3" in text
    assert "\n" not in text.rstrip("\n")  # redrawn in place: one line until the end
