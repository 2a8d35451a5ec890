"""Acting on a scan: ``--move-duplicates`` moves the extra copies aside, ``undo`` moves them
back; nothing is deleted or overwritten (real photos in a folder, the real command)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from backend.cli import main
from tests.helpers import folders


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by its relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("dupfinder-undo-")
    }


def test_move_duplicates_and_undo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folders.photo_folder(tmp_path / "photos")
    aside, state = tmp_path / "aside", str(tmp_path / "state")
    before = files(folder)
    code, out, _ = run(
        capsys, "--data-dir", state, "scan", str(folder), "-q", "--move-duplicates", str(aside)
    )
    assert code == 0, out
    assert "Resolving the exact and near groups would free" in out and "to free" in out
    assert "Moved 4 extra copies" in out and "nothing was deleted" in out

    # One copy of the photo stays; the others sit under the same relative paths in DEST.
    moved, left = files(aside), files(folder)
    assert len(moved) == 4 and set(moved) < set(folders.NEAR)
    assert set(moved) | set(left) == set(before) and not set(moved) & set(left)
    assert all(before[rel] == data for rel, data in (moved | left).items())
    assert len(set(folders.NEAR) & set(left)) == 1
    (manifest,) = aside.glob("dupfinder-undo-*.json")
    assert f"dupfinder undo {manifest}" in out
    moves = json.loads(manifest.read_text())["moves"]
    assert {Path(m["to"]).relative_to(aside.resolve()).as_posix() for m in moves} == set(moved)
    for m in moves:
        assert Path(m["from"]) == (folder / Path(m["to"]).relative_to(aside.resolve())).resolve()
        assert m["sha256"] == hashlib.sha256(Path(m["to"]).read_bytes()).hexdigest()
        assert m["size"] == Path(m["to"]).stat().st_size

    code, out, _ = run(capsys, "undo", str(manifest))
    assert code == 0 and "Moved 4 file(s) back" in out
    assert files(folder) == before and files(aside) == {}

    # Again with --json: the report keeps its keys; what was moved is said on stderr.
    code, out, err = run(
        capsys,
        "--data-dir",
        state,
        "scan",
        str(folder),
        "-q",
        "--json",
        "--move-duplicates",
        str(aside),
    )
    assert code == 0
    assert set(json.loads(out)) == {"exact", "near", "similar", "skipped", "groups"}
    assert "Moved 4 extra copies" in err
    manifest = next(m for m in aside.glob("dupfinder-undo-*.json") if str(m) in err)
    blocked, changed, *restorable = sorted(files(aside))
    (folder / blocked).write_bytes(b"a new file with the old name")
    (aside / changed).write_bytes((aside / changed).read_bytes() + b"edited")
    code, out, _ = run(capsys, "undo", str(manifest))
    assert code == 1 and "Moved 2 file(s) back" in out
    assert f"could not restore {(folder / blocked).resolve()}: a file is there again" in out
    assert "changed since it was moved (SHA-256 differs)" in out
    assert (folder / blocked).read_bytes() == b"a new file with the old name"  # not overwritten
    assert set(files(aside)) == {blocked, changed}  # both kept where they are
    assert all(files(folder)[rel] == before[rel] for rel in restorable)


def test_folders_checked_before_any_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "--data-dir", state, "scan", str(tmp_path / "gone"))
    assert (code, out, err) == (2, "", f"dupfinder: {tmp_path / 'gone'} does not exist\n")
    (tmp_path / "a.jpg").write_bytes(b"x")
    code, _, err = run(capsys, "--data-dir", state, "scan", str(tmp_path / "a.jpg"))
    assert code == 2 and err == f"dupfinder: {tmp_path / 'a.jpg'} is not a folder\n"
    photos = tmp_path / "photos"
    photos.mkdir()
    code, _, err = run(
        capsys, "--data-dir", state, "scan", str(photos), "--move-duplicates", str(photos / "dups")
    )
    assert code == 2 and "is inside" in err and "hashing" not in err
    code, _, err = run(capsys, "undo", str(tmp_path / "no-manifest.json"))
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "undo", str(tmp_path / "a.jpg"))
    assert code == 2 and "is not a dupfinder undo manifest" in err

    code, out, _ = run(capsys, "--data-dir", state, "scan", str(photos), "-q")
    assert code == 0 and f"No images were found in {photos}." in out
    assert "Exact duplicates" not in out
    assert os.listdir(photos) == []
