"""Acting on a folder scan, safely: move the extra copies aside, and move them back.

``dupfinder scan DIR --move-duplicates DEST`` moves the copies that are not kept (exact and
near groups only: similar shots are other pictures) to DEST under their paths relative to
DIR, and writes an undo manifest (from, to, sha256, size) into DEST before moving anything.
Nothing is ever deleted, nothing is overwritten. ``dupfinder undo MANIFEST`` moves them back
after checking that each file is still the one that was moved.

Plain files only (no database): the command line imports this when it needs it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

MANIFEST_VERSION = 1


class Grouped(Protocol):
    """A group of a scan report: its tier ("exact", "near", "similar"), paths and keeper."""

    @property
    def tier(self) -> str: ...

    @property
    def paths(self) -> list[str]: ...

    @property
    def keep(self) -> str: ...


@dataclass
class Moved:
    manifest: Path | None = None
    moved: list[tuple[str, str]] = field(default_factory=list)  # (from, to)
    bytes: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, why not)


def to_move(groups: Iterable[Grouped]) -> list[str]:
    """The copies to move: every member of an exact or near group but one keeper per group of
    copies. Near groups come first: an exact group inside one is covered by its keeper (the
    tiers nest), so the one copy kept is the near group's keeper."""
    copies = sorted(
        (g for g in groups if g.tier in ("exact", "near")), key=lambda g: g.tier != "near"
    )
    covered: set[str] = set()
    keepers: set[str] = set()
    for group in copies:
        if set(group.paths) <= covered:
            continue
        keepers.add(group.keep)
        covered.update(group.paths)
    return sorted(covered - keepers)


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _move_file(src: Path, dst: Path) -> None:
    """Move without ever replacing a file at ``dst`` (FileExistsError instead)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # atomic, and refuses an existing name
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            raise
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        # Another file system (or no hard links): copy to a new name, check, then unlink.
        with src.open("rb") as fin, dst.open("xb") as fout:
            shutil.copyfileobj(fin, fout)
        shutil.copystat(src, dst)
        if sha256_of(dst) != sha256_of(src):
            dst.unlink()
            raise OSError(f"the copy of {src} differs from it; left in place") from exc
    os.unlink(src)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def move_duplicates(root: Path, dest: Path, paths: list[str]) -> Moved:
    """Move ``paths`` (files under ``root``) to the same relative paths under ``dest``; the
    manifest lists every planned move before the first one happens, so that an interrupted
    run can be undone too (a move that did not happen is reported, not lost)."""
    done = Moved()
    if not paths:
        return done
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    manifest = dest / f"dupfinder-undo-{stamp}.json"
    planned: list[dict[str, str | int]] = []
    for path in paths:
        src = Path(path)
        try:
            rel = src.resolve().relative_to(root.resolve())
            planned.append(
                {
                    "from": str(src.resolve()),
                    "to": str(dest.resolve() / rel),
                    "sha256": sha256_of(src),
                    "size": src.stat().st_size,
                }
            )
        except (OSError, ValueError) as exc:
            done.problems.append((path, str(exc) or type(exc).__name__))
    body = {
        "version": MANIFEST_VERSION,
        "root": str(root.resolve()),
        "dest": str(dest.resolve()),
        "created_at": datetime.now(UTC).isoformat(),
        "moves": planned,
    }
    _write_json(manifest, body)
    done.manifest = manifest
    for move in planned:
        src, dst = Path(str(move["from"])), Path(str(move["to"]))
        try:
            _move_file(src, dst)
        except FileExistsError:
            done.problems.append((str(src), f"{dst} already exists; left in place"))
            continue
        except OSError as exc:
            done.problems.append((str(src), str(exc)))
            continue
        done.moved.append((str(src), str(dst)))
        done.bytes += int(move["size"])
    return done


@dataclass
class Restored:
    restored: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, why not)


def undo(manifest: Path) -> Restored:
    """Move each file of the manifest back where it was: never over an existing file, and only
    when it is still the file that was moved (same SHA-256)."""
    try:
        body = json.loads(manifest.read_text(encoding="utf-8"))
        moves = body["moves"]
        if body.get("version") != MANIFEST_VERSION or not isinstance(moves, list):
            raise ValueError("unknown manifest version")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{manifest} is not a dupfinder undo manifest ({exc})") from exc
    done = Restored()
    for move in moves:
        src, dst = Path(move["from"]), Path(move["to"])
        if not dst.exists():
            if src.exists() and sha256_of(src) == move["sha256"]:
                continue  # never moved (an interrupted run), or already back
            done.problems.append((str(dst), "no longer there"))
        elif src.exists():
            done.problems.append((str(src), "a file is there again; nothing overwritten"))
        elif sha256_of(dst) != move["sha256"]:
            done.problems.append((str(dst), "changed since it was moved (SHA-256 differs)"))
        else:
            try:
                _move_file(dst, src)
            except OSError as exc:
                done.problems.append((str(dst), str(exc)))
                continue
            done.restored.append(str(src))
    return done
