"""Write requirements.txt and requirements-dev.txt: the versions installed in .venv of the
project's dependencies (declared in pyproject.toml) and of everything they depend on.

Run with the project's interpreter after a dev install: ``make requirements``.
pyproject.toml stays the source of truth; these files pin what CI and bootstrap install.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "dupfinder"
ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# Generated from pyproject.toml by `make requirements`; do not edit by hand.
# pyproject.toml is the source of truth: change dependencies there, then run
# `make requirements` (add UPGRADE=1 to move to the newest allowed versions).
# scripts/bootstrap.sh installs with these files as pip constraints.
# Python {py}; {what}.
"""


def wanted(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in extras | {""})


def closure(roots: list[Requirement]) -> dict[str, tuple[str, str]]:
    """canonical name -> (distribution name, installed version), roots and their deps."""
    out: dict[str, tuple[str, str]] = {}
    todo = [(r, set(r.extras)) for r in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        key = (canonicalize_name(req.name), frozenset(extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"requirements: {req.name} is not installed; run scripts/bootstrap.sh --dev")
        out[key[0]] = (dist.metadata["Name"], dist.version)
        for line in dist.requires or []:
            sub = Requirement(line)
            if wanted(sub, extras):
                todo.append((sub, set(sub.extras)))
    return out


def write(path: Path, what: str, pins: dict[str, tuple[str, str]], prefix: str = "") -> None:
    py = ".".join(map(str, sys.version_info[:2]))
    lines = [
        f"{name}=={version}" for name, version in sorted(pins.values(), key=lambda p: p[0].lower())
    ]
    path.write_text(HEADER.format(py=py, what=what) + prefix + "\n".join(lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(lines)} pins)")


def main() -> None:
    declared = [Requirement(r) for r in metadata.distribution(PROJECT).requires or []]
    runtime_roots = [r for r in declared if wanted(r, set())]
    dev_roots = [r for r in declared if wanted(r, {"dev"})]
    runtime = closure(runtime_roots)
    everything = closure(dev_roots)
    runtime.pop(canonicalize_name(PROJECT), None)
    dev_only = {k: v for k, v in everything.items() if k not in runtime and k != PROJECT}
    write(ROOT / "requirements.txt", "what `dupfinder` needs to run", runtime)
    write(
        ROOT / "requirements-dev.txt",
        "tests, linters and type checker on top of requirements.txt",
        dev_only,
        prefix="-r requirements.txt\n",
    )


if __name__ == "__main__":
    main()
