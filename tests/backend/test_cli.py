"""The ``dupfinder`` command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.cli import main
from tests.helpers import folders


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return folders.photo_folder(tmp_path / "photos")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json(tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "--data-dir", state, "scan", str(folder), "--json", "-q")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert set(report) == {"exact", "near", "similar", "skipped"}
    paths = lambda rels: sorted(os.path.join(str(folder), r) for r in rels)  # noqa: E731
    assert report["exact"] == [paths(folders.EXACT)]
    assert report["near"] == [paths(folders.NEAR)]
    assert report["similar"] == []
    assert [p for p, _ in report["skipped"]] == paths(folders.SKIPPED)
    assert all(isinstance(reason, str) and reason for _, reason in report["skipped"])


def test_scan_summary(tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    code, out, _ = run(capsys, "--data-dir", state, "scan", str(folder), "-q")
    assert code == 0
    assert "Scanned 9 files" in out and "(9 analysed now" in out
    assert "Exact duplicates (identical pictures): 1 group(s), 2 extra copies" in out
    assert "Near-duplicates (the same photo, edited or re-encoded): 1 group(s), 4 extra" in out
    assert f"[keep] {folder / folders.EXACT[0]}" in out and "why keep:" in out
    assert "Skipped 2 file(s):" in out
    code, out, _ = run(capsys, "--data-dir", state, "scan", str(folder), "-q")
    assert "(0 analysed now, the rest remembered)" in out


def test_progress_bar_goes_to_stderr(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "s"), "scan", str(folder), "--json")
    assert code == 0 and "analysing" in err
    json.loads(out)


def test_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "s"), "scan", str(tmp_path / "no"))
    assert code == 2 and out == "" and "is not a folder" in err


def test_data_dir_from_environment(
    tmp_path: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUPFINDER_DATA_DIR", str(tmp_path / "env-state"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, _, _ = run(capsys, "scan", str(folder), "-q", "--json")
    assert code == 0 and (tmp_path / "env-state" / "dupfinder.sqlite3").is_file()


def test_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
