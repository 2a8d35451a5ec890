"""A scan never offers another shot of the scene as a copy: the stereo pair of scikit-image
(4 bits apart by the hashes) lands in the similar tier, the copies of one of them in near."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image
from sqlmodel import Session, select

from backend.models import ImagePair
from backend.runtime import build_runtime
from backend.services.scan import scan_folder
from tests.helpers.app import MODELS_ON, make_settings
from tests.helpers.images import camera_exif
from tests.helpers.photos import jpeg, skimage_photo


def _scan(
    tmp_path: Path, files: dict[str, bytes], **settings: Any
) -> tuple[dict[str, Any], list[ImagePair]]:
    """Scan a folder of these files: the scan's JSON and the pairs stored."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    runtime = build_runtime(make_settings(tmp_path / "state", **settings))
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        with Session(runtime.ctx.engine) as session:
            pairs = list(session.exec(select(ImagePair)).all())
    finally:
        runtime.close()
    return report.as_json(), pairs


def test_stereo_pair_is_not_near(tmp_path: Path) -> None:
    left, right = skimage_photo("motorcycle_left.png"), skimage_photo("motorcycle_right.png")
    files = {
        "left.jpg": jpeg(left, 92),
        "left-small.jpg": jpeg(left.resize((left.width // 2, left.height // 2)), 80),
        "right.jpg": jpeg(right, 92),
    }
    out, pairs = _scan(tmp_path, files)
    paths = {name: str(tmp_path / "photos" / name) for name in files}
    assert out["near"] == [sorted([paths["left.jpg"], paths["left-small.jpg"]])], json.dumps(out)
    assert out["similar"] == [sorted(paths.values())]
    verdicts = sorted(p.verdict or "" for p in pairs)
    assert verdicts == ["copy", "other_shot", "other_shot"]
    assert any((p.decided_by or "").startswith("another shot") for p in pairs)


def _shot(im: Image.Image, subsec: str, size: tuple[int, int] | None = None) -> bytes:
    exif = camera_exif(make="Canon", model="EOS 5D")
    exif.get_ifd(0x8769)[0x9291] = subsec  # SubSecTimeOriginal
    buf = io.BytesIO()
    (im.resize(size) if size else im).save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def test_exif_says_two_shots(tmp_path: Path) -> None:
    """Pictures that look like copies but were taken 0.4 s apart by one camera: a burst."""
    left = skimage_photo("motorcycle_left.png")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "IMG_1.jpg").write_bytes(_shot(left, "12"))
    (folder / "IMG_2.jpg").write_bytes(_shot(left, "52", (left.width - 8, left.height - 6)))
    runtime = build_runtime(make_settings(tmp_path / "state"))
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        with Session(runtime.ctx.engine) as session:
            (stored,) = session.exec(select(ImagePair)).all()
    finally:
        runtime.close()
    out = report.as_json()
    assert out["near"] == [] and len(out["similar"]) == 1  # type: ignore[arg-type]
    assert stored.decided_by == "taken 0.4 s apart" and stored.verdict == "other_shot"
    (group,) = out["groups"]  # type: ignore[misc]
    assert group["bytes_freed"] == 0 and group["suggested_action"].startswith("pick the best")
    assert group["decided_by"] == ["taken 0.4 s apart"]


def test_a_family_of_copies_costs_one_verification_per_copy(tmp_path: Path) -> None:
    """Four pictures of one photograph are six would-be near pairs; three verifications join
    them, and the other three pairs are copies through them (the same near group)."""
    photo = skimage_photo("astronaut.png")
    files = {
        "original.jpg": jpeg(photo, 95),
        "small.jpg": jpeg(photo.resize((photo.width // 2, photo.height // 2)), 85),
        "recompressed.jpg": jpeg(photo, 40),
        "mirrored.jpg": jpeg(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 90),
    }
    out, pairs = _scan(tmp_path, files)
    assert out["near"] == [sorted(str(tmp_path / "photos" / name) for name in files)]
    assert len(pairs) == 6 and {p.verdict for p in pairs} == {"copy"}
    verified = [p for p in pairs if p.explained is not None]
    through = [p for p in pairs if p.decided_by == "both are verified copies of one photograph"]
    assert len(verified) == 3 and len(through) == 3


def test_a_verified_copy_is_near_where_sscd_alone_says_similar(tmp_path: Path) -> None:
    """With SSCD's near threshold out of reach, a half crop (far by the hashes) is near only
    because verification finds one transform that explains it; the stereo pair's other view,
    verified the same way, stays in similar."""
    left, right = skimage_photo("motorcycle_left.png"), skimage_photo("motorcycle_right.png")
    files = {
        "left.jpg": jpeg(left, 92),
        "left-crop.jpg": jpeg(left.crop((150, 100, 150 + left.width // 2, 100 + left.height // 2))),
        "right.jpg": jpeg(right, 92),
    }
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    settings = make_settings(
        tmp_path / "state",
        **{
            **MODELS_ON,
            "DUPFINDER_OBJECT_MODEL": "none",
            "DUPFINDER_NEAR_COPY_SIMILARITY": 0.99,
            "DUPFINDER_SIMILAR_COPY_SIMILARITY": 0.3,
        },
    )
    runtime = build_runtime(settings)
    try:
        out = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder)).as_json()
        with Session(runtime.ctx.engine) as session:
            pairs = {(p.image_a, p.image_b): p for p in session.exec(select(ImagePair)).all()}
    finally:
        runtime.close()
    paths = {name: str(folder / name) for name in files}
    assert out["near"] == [sorted([paths["left.jpg"], paths["left-crop.jpg"]])], json.dumps(out)
    assert out["similar"] == [sorted(paths.values())]
    copies = [p for p in pairs.values() if p.tier == "near"]
    assert len(copies) == 1 and copies[0].verdict == "copy"
    assert copies[0].copy_similarity is not None and copies[0].copy_similarity < 0.99
    assert (copies[0].decided_by or "").startswith("one transform explains")


def test_a_still_scene_whose_things_were_nudged_is_another_shot(tmp_path: Path) -> None:
    """The next frame of a still scene, a few things nudged by a pixel or two (too little for
    the motion check's two pixels): another shot, kept out of the photo's near group even
    through the photo's own small copy, which it may verify against as a copy."""
    from tests.backend.core.test_verify import _objects_nudged

    photo = skimage_photo("motorcycle_left.png").convert("RGB")
    files = {
        "frame1.jpg": jpeg(photo, 92),
        "frame1-small.jpg": jpeg(photo.resize((photo.width // 2, photo.height // 2)), 85),
        "frame2.jpg": jpeg(_objects_nudged(photo), 92),
    }
    out, pairs = _scan(tmp_path, files)
    paths = {name: str(tmp_path / "photos" / name) for name in files}
    assert out["near"] == [sorted([paths["frame1.jpg"], paths["frame1-small.jpg"]])], out
    assert out["similar"] == [sorted(paths.values())]
    shots = [p for p in pairs if (p.decided_by or "").startswith("another shot")]
    assert shots and all(p.verdict == "other_shot" and p.moved for p in shots), shots
    assert any("shifted on their own" in (p.decided_by or "") for p in shots)


def test_the_original_is_kept_over_a_copy_turned_on_a_larger_canvas(tmp_path: Path) -> None:
    """The turned copy has more pixels (its canvas grew to hold the corners) but no more
    detail: the scan suggests keeping the original, which it would otherwise lose to the
    copy's resolution."""
    photo = skimage_photo("coffee.png")
    turned = photo.rotate(10, expand=True, resample=Image.Resampling.BICUBIC)
    files = {"coffee-turned.jpg": jpeg(turned, 92), "coffee.jpg": jpeg(photo, 92)}
    # A turn by 10 degrees is too far for the hashes: the copy detector finds the pair.
    out, _ = _scan(tmp_path, files, **{**MODELS_ON, "DUPFINDER_OBJECT_MODEL": "none"})
    paths = {name: str(tmp_path / "photos" / name) for name in files}
    near = [g for g in out["groups"] if g["tier"] == "near"]
    assert len(near) == 1, json.dumps(out)
    group = near[0]
    assert sorted(group["members"]) == sorted(paths.values())
    assert group["keep"] == paths["coffee.jpg"], json.dumps(group)
