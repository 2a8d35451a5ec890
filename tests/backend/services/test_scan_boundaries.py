"""What a folder scan never touches or trusts: hidden files, our own data, oversized files,
and the local account that owns the scan."""

from __future__ import annotations

import os
from pathlib import Path

from sqlmodel import Session, select

from backend.models import User
from backend.runtime import build_runtime
from backend.services.scan import scan_folder
from tests.helpers import images as img
from tests.helpers.app import make_settings


def test_hidden_files_our_data_and_huge_files_are_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    (home / ".hidden.jpg").write_bytes(img.jpeg(1))
    photo = img.jpeg(2)
    (home / "a.jpg").write_bytes(photo)
    (home / "b.jpg").write_bytes(photo)
    with open(home / "film.mp4", "wb") as fh:  # sparse: large on paper, nothing on disk
        fh.truncate(300 * 1024 * 1024)
    visible_data = home / "dupfinder-data"  # our own database and thumbnails, inside the folder
    settings = make_settings(visible_data, DUPFINDER_MAX_UPLOAD_BYTES=10 * 1024 * 1024)
    for run in range(2):  # the second scan would see our own database and thumbnails
        runtime = build_runtime(settings)
        try:
            report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(home))
        finally:
            runtime.close()
        shown = {p for g in report.groups for p in g.paths} | {p for p, _ in report.skipped}
        assert shown == {str(home / n) for n in ("a.jpg", "b.jpg", "film.mp4")}, run
        (reason,) = [r for p, r in report.skipped if p.endswith("film.mp4")]
        assert "over the limit" in reason
    with Session(runtime.engine) as session:
        owners = session.exec(select(User)).all()
        assert [u.is_active for u in owners] == [False]  # no token may ever act as it
    assert os.path.getsize(home / "film.mp4") == 300 * 1024 * 1024
