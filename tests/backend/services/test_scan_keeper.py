"""A newcomer's byte-identical IMG_1234.jpg, IMG_1234 (1).jpg and IMG_1234-copy.jpg: the scan
suggests keeping IMG_1234.jpg, and its JSON says why and what resolving frees."""

from __future__ import annotations

from pathlib import Path

from backend.runtime import build_runtime
from backend.services.scan import scan_folder
from tests.helpers import images as img
from tests.helpers.app import make_settings


def test_keeper_is_the_name_without_a_copy_marker(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    data = img.camera_jpeg(81)
    for name in ("IMG_1234 (1).jpg", "IMG_1234-copy.jpg", "IMG_1234.jpg"):
        (folder / name).write_bytes(data)
    runtime = build_runtime(make_settings(tmp_path / "state"))
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
    finally:
        runtime.close()
    out = report.as_json()
    assert set(out) == {"exact", "near", "similar", "skipped", "groups"}
    (group,) = out["groups"]  # type: ignore[misc]
    assert group["tier"] == "exact"
    assert group["keep"] == str(folder / "IMG_1234.jpg")
    assert any("copy marker" in r for r in group["reasons"])
    assert group["bytes_freed"] == 2 * len(data)
    assert group["suggested_action"].startswith("keep the suggested copy")
    assert len(group["members"]) == 3
