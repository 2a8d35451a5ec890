"""Recording benchmark figures: each benchmark owns one marked section of RESULTS.md and one key
of results.json, and rewrites only those; plus the machine facts every record carries."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any


def update_results_md(path: Path, start: str, end: str, section: str) -> None:
    """Replace the text between the ``start`` and ``end`` markers (``section`` includes them)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def update_results_json(path: Path, key: str, result: dict[str, Any]) -> None:
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data[key] = result
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(repo: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table for the terminal: numbers right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(cells, widths, strict=True)
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: columns whose first cell is a number are right-aligned."""
    align = ["---:" if _numeric(c) else "---" for c in rows[0]] if rows else []
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
