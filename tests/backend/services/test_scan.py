"""Scanning a folder: the same pipeline as uploads, with features remembered between scans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.config import Settings
from backend.runtime import build_runtime
from backend.services.scan import ScanReport, scan_folder
from tests.helpers import folders
from tests.helpers import images as img
from tests.helpers.app import make_settings


def scan(settings: Settings, folder: str) -> ScanReport:
    runtime = build_runtime(settings)
    try:
        seen: list[tuple[int, int]] = []
        report = scan_folder(
            runtime.ctx,
            runtime.embedded_worker(),
            folder,
            lambda _phase, done, total: seen.append((done, total)),
        )
        assert seen and seen[-1][0] == seen[-1][1] == report.analysed
        return report
    finally:
        runtime.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return folders.photo_folder(tmp_path / "photos")


@pytest.fixture
def scan_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "state")


def joined(folder: Path, rels: list[str]) -> list[str]:
    return sorted(os.path.join(str(folder), r) for r in rels)


def test_first_scan(folder: Path, scan_settings: Settings) -> None:
    report = scan(scan_settings, str(folder))
    assert (report.files, report.analysed) == (9, 9)
    out = report.as_json()
    groups = out.pop("groups")
    assert out == {
        "exact": [joined(folder, folders.EXACT)],
        "near": [joined(folder, folders.NEAR)],
        "similar": [],
        "skipped": [[p, r] for p, r in report.skipped],
    }
    assert [(g["tier"], g["members"]) for g in groups] == [  # type: ignore[attr-defined]
        ("exact", joined(folder, folders.EXACT)),
        ("near", joined(folder, folders.NEAR)),
    ]
    skipped = dict(report.skipped)
    assert sorted(skipped) == joined(folder, folders.SKIPPED)
    assert "truncated" in skipped[str(folder / folders.SKIPPED[0])]
    assert "not an image" in skipped[str(folder / "notes.txt")]
    exact = report.groups[0]
    assert exact.keep == str(folder / folders.EXACT[0]) and exact.reasons


def test_rescan_remembers_changes_and_deletions(folder: Path, scan_settings: Settings) -> None:
    scan(scan_settings, str(folder))
    again = scan(scan_settings, str(folder))
    assert (again.files, again.analysed) == (9, 0)
    assert again.as_json()["exact"] == [joined(folder, folders.EXACT)]

    # An unrelated photo becomes another copy of the original: analysed afresh.
    lake = folder / folders.OTHERS[0]
    lake.write_bytes((folder / folders.EXACT[0]).read_bytes())
    os.utime(lake, ns=(lake.stat().st_atime_ns, lake.stat().st_mtime_ns + 10**9))
    changed = scan(scan_settings, str(folder))
    assert changed.analysed == 1
    assert changed.as_json()["exact"] == [joined(folder, folders.EXACT + [folders.OTHERS[0]])]

    # A deleted copy disappears from the groups.
    (folder / folders.EXACT[1]).unlink()
    gone = scan(scan_settings, str(folder))
    assert (gone.files, gone.analysed) == (8, 0)
    remaining = [folders.EXACT[0], folders.EXACT[2], folders.OTHERS[0]]
    assert gone.as_json()["exact"] == [joined(folder, remaining)]
    assert all(str(folder / folders.EXACT[1]) not in g for g in gone.as_json()["near"])


def test_paths_are_shown_as_given(
    folder: Path, scan_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder.parent)
    report = scan(scan_settings, "photos/")
    assert report.as_json()["exact"] == [sorted("photos/" + r for r in folders.EXACT)]
    # The same folder named differently is the same library: nothing analysed again.
    assert scan(scan_settings, str(folder)).analysed == 0


def test_two_folders_are_separate_libraries(tmp_path: Path, scan_settings: Settings) -> None:
    shared = img.jpeg(80)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.jpg").write_bytes(shared)
    assert scan(scan_settings, str(tmp_path / "a")).groups == []
    assert scan(scan_settings, str(tmp_path / "b")).groups == []


def test_symlinks_are_not_followed(tmp_path: Path, scan_settings: Settings) -> None:
    root = tmp_path / "linked"
    root.mkdir()
    (root / "a.jpg").write_bytes(img.jpeg(81))
    (root / "alias.jpg").symlink_to(root / "a.jpg")
    report = scan(scan_settings, str(root))
    assert report.files == 1 and report.groups == []


def test_not_a_folder(tmp_path: Path, scan_settings: Settings) -> None:
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        scan(scan_settings, str(tmp_path / "missing"))


def test_a_scan_stopped_before_analysis_is_finished_by_the_next(
    folder: Path, scan_settings: Settings
) -> None:
    runtime = build_runtime(scan_settings)
    try:
        runtime.worker.shutdown()  # interrupted: files registered, nothing analysed
        stopped = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        assert stopped.groups == [] and stopped.skipped == []
    finally:
        runtime.close()
    resumed = scan(scan_settings, str(folder))
    assert resumed.analysed == 9
    assert resumed.as_json()["exact"] == [joined(folder, folders.EXACT)]
    assert scan(scan_settings, str(folder)).analysed == 0


def test_undecodable_file_names_do_not_sink_the_scan(
    tmp_path: Path, scan_settings: Settings
) -> None:
    root = tmp_path / "legacy"
    root.mkdir()
    data = img.jpeg(82)
    (root / "copy.jpg").write_bytes(data)
    odd = os.path.join(os.fsencode(root), b"caf\xe9.jpg")  # Latin-1 "café.jpg"
    with open(odd, "wb") as fh:
        fh.write(data)
    report = scan(scan_settings, str(root))
    shown = {p for g in report.groups for p in g.paths} | {p for p, _ in report.skipped}
    assert str(root / "copy.jpg") in shown and len(shown) == 2
