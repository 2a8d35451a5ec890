"""A scan never offers another shot of the scene as a copy: the stereo pair of scikit-image
(4 bits apart by the hashes) lands in the similar tier, the copies of one of them in near."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from backend.models import ImagePair
from backend.runtime import build_runtime
from backend.services.scan import scan_folder
from tests.helpers.app import make_settings
from tests.helpers.photos import jpeg, skimage_photo


def test_stereo_pair_is_not_near(tmp_path: Path) -> None:
    left, right = skimage_photo("motorcycle_left.png"), skimage_photo("motorcycle_right.png")
    folder = tmp_path / "photos"
    folder.mkdir()
    files = {
        "left.jpg": jpeg(left, 92),
        "left-small.jpg": jpeg(left.resize((left.width // 2, left.height // 2)), 80),
        "right.jpg": jpeg(right, 92),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    runtime = build_runtime(make_settings(tmp_path / "state"))
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        with Session(runtime.ctx.engine) as session:
            pairs = session.exec(select(ImagePair)).all()
    finally:
        runtime.close()
    out = report.as_json()
    paths = {name: str(folder / name) for name in files}
    assert out["near"] == [sorted([paths["left.jpg"], paths["left-small.jpg"]])], json.dumps(out)
    assert out["similar"] == [sorted(paths.values())]
    verdicts = sorted(p.verdict or "" for p in pairs)
    assert verdicts == ["copy", "other_shot", "other_shot"]
    assert any((p.decided_by or "").startswith("another shot") for p in pairs)
