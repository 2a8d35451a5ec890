"""Byte copies (a folder and its backup) are analysed once: the copy takes its twin's hashes,
thumbnail, model vectors and verification verdicts, with the real SSCD, and every copy of a
pair gets the verdict the pair got."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from backend.core import features, verify
from backend.ml.sscd import SSCDEncoder
from backend.ml.yolo import YoloDetector
from backend.models import Image, ImageEmbedding, ImageObject, ImagePair, ImageState
from backend.runtime import build_runtime
from backend.services.features.analyse_models import analyse_with_models
from backend.services.grouping import candidates
from backend.services.grouping.copied_pairs import stored_verdicts
from backend.services.grouping.verdict_cache import VerdictCache
from backend.services.scan import scan_folder
from tests.helpers.app import MODELS_ON, make_settings
from tests.helpers.photos import decoded, jpeg, png, skimage_photo


class _Calls:
    """Counts what the real functions are given (they still run)."""

    def __init__(self) -> None:
        self.decodes = 0
        self.embedded = 0
        self.verified = 0
        self.digests = 0  # full-size decodes for exact-pixel digests
        self.detected = 0  # pictures YOLO looked at


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    seen = _Calls()
    decode, predict, compare, digest, detect = (
        features.decode_pixel_facts,
        SSCDEncoder._predict_batch,
        verify.verify,
        candidates.pixel_digest,
        YoloDetector._predict_batch,
    )

    def counted_decode(data: bytes, limits: Any) -> features.PixelFacts:
        seen.decodes += 1
        return decode(data, limits)

    def counted_predict(self: SSCDEncoder, images: Sequence[Any]) -> list[Any]:
        seen.embedded += len(images)
        return predict(self, images)

    def counted_verify(*args: Any, **kwargs: Any) -> verify.Verification:
        seen.verified += 1
        return compare(*args, **kwargs)

    def counted_digest(data: bytes, limits: Any) -> str:
        seen.digests += 1
        return digest(data, limits)

    def counted_detect(self: YoloDetector, images: Sequence[Any]) -> list[Any]:
        seen.detected += len(images)
        return detect(self, images)

    monkeypatch.setattr(features, "decode_pixel_facts", counted_decode)
    monkeypatch.setattr(YoloDetector, "_predict_batch", counted_detect)
    monkeypatch.setattr(candidates, "pixel_digest", counted_digest)
    monkeypatch.setattr(SSCDEncoder, "_predict_batch", counted_predict)
    monkeypatch.setattr(verify, "verify", counted_verify)
    return seen


def _scan(tmp_path: Path, folder: Path) -> tuple[dict[str, Any], list[Image], list[ImagePair]]:
    # One hashing thread: each copy comes after its twin is hashed (the order is fixed).
    settings = make_settings(tmp_path / "state", DUPFINDER_WORKER_THREADS=1, **MODELS_ON)
    runtime = build_runtime(settings)
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        with Session(runtime.ctx.engine) as session:
            images = list(session.exec(select(Image)).all())
            pairs = list(session.exec(select(ImagePair)).all())
            vectors = list(session.exec(select(ImageEmbedding)).all())
            assert len(vectors) == len(images)  # every copy has its vector
            by_image = {v.image_id: v.vector for v in vectors}
            thumbs = {i.id: runtime.ctx.store.get(i.thumbnail_key or "") for i in images}
            objects: dict[int | None, list[tuple[str, float]]] = {i.id: [] for i in images}
            for o in session.exec(select(ImageObject).order_by(ImageObject.id)).all():
                objects[o.image_id].append((o.label, o.x0))
    finally:
        runtime.close()
    for image in images:
        twins = [o for o in images if o.content_sha256 == image.content_sha256]
        assert {by_image[o.id] for o in twins} == {by_image[image.id]}
        assert {thumbs[o.id] for o in twins} == {thumbs[image.id]}
        assert {(o.objects_model, str(objects[o.id])) for o in twins} == {
            (image.objects_model, str(objects[image.id]))
        }
        assert {(o.phash, o.phash_dihedral, o.blank_share) for o in twins} == {
            (image.phash, image.phash_dihedral, image.blank_share)
        }
    return report.as_json(), images, pairs


def _photos(folder: Path) -> dict[str, bytes]:
    left, right = skimage_photo("motorcycle_left.png"), skimage_photo("motorcycle_right.png")
    files = {
        "left.jpg": jpeg(left, 92),
        "left-small.jpg": jpeg(left.resize((left.width // 2, left.height // 2)), 80),
        "right.jpg": jpeg(right, 92),
    }
    files["left.png"] = png(decoded(files["left.jpg"]))  # the same pixels, other bytes
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _verdicts(images: list[Image], pairs: list[ImagePair]) -> dict[frozenset[str], set[str]]:
    """The verdicts stored for each two file names (a file and its copy share a name)."""
    shown = {i.id: Path(i.source_id or "").name for i in images}
    out: dict[frozenset[str], set[str]] = {}
    for p in pairs:
        names = frozenset((shown[p.image_a], shown[p.image_b]))
        if len(names) == 2 and p.verdict is not None:
            out.setdefault(names, set()).add(p.verdict)
    return out


def test_a_folder_and_its_backup_are_analysed_once(tmp_path: Path, calls: _Calls) -> None:
    folder = tmp_path / "photos"
    _photos(folder / "2024")
    shutil.copytree(folder / "2024", folder / "2024 backup")

    out, images, pairs = _scan(tmp_path, folder)

    assert len(images) == 8
    assert calls.decodes == 4  # one reduced decode a content
    assert calls.embedded == 4  # one SSCD run a content
    # Pixels read for left.png and the JPEGs of its size (left.jpg, right.jpg), once a
    # content: the backups take those digests.
    assert calls.digests == 3
    sha = {i.id: i.content_sha256 for i in images}
    # The people check looked at the pictures of would-be similar pairs, once a content.
    looked = {sha[i.id] for i in images if i.objects_model}
    assert calls.detected == len(looked) > 0
    # One verification a pair of contents: the pairs of their copies take its verdict.
    fresh = {frozenset((sha[p.image_a], sha[p.image_b])) for p in pairs if p.explained}
    assert calls.verified == len(fresh) > 0
    verdicts = _verdicts(images, pairs)
    # Every copy of a pair is judged as the pair is.
    assert all(len(v) == 1 for v in verdicts.values()), verdicts
    assert verdicts[frozenset(("left.jpg", "right.jpg"))] == {"other_shot"}
    assert verdicts[frozenset(("left.jpg", "left-small.jpg"))] == {"copy"}
    exact = sorted(sorted(Path(p).name for p in g) for g in out["exact"])
    assert exact == [
        ["left-small.jpg", "left-small.jpg"],
        ["left.jpg", "left.jpg", "left.png", "left.png"],
        ["right.jpg", "right.jpg"],
    ]


def test_a_backup_scanned_later_takes_the_stored_verdicts(tmp_path: Path, calls: _Calls) -> None:
    folder = tmp_path / "photos"
    _photos(folder / "2024")
    _, first, _ = _scan(tmp_path, folder)
    assert len(first) == 4 and calls.verified > 0
    # Another day, another process (nothing kept in memory): the backup joins the folder.
    shutil.copytree(folder / "2024", folder / "2024 backup")
    before = (calls.decodes, calls.embedded, calls.verified, calls.digests, calls.detected)

    out, images, pairs = _scan(tmp_path, folder)

    assert len(images) == 8
    # Nothing of the copies is decoded, embedded, detected or verified again.
    assert (calls.decodes, calls.embedded, calls.verified, calls.digests, calls.detected) == before
    verdicts = _verdicts(images, pairs)
    assert all(len(v) == 1 for v in verdicts.values()), verdicts
    assert verdicts[frozenset(("left.jpg", "right.jpg"))] == {"other_shot"}
    assert len(out["exact"]) == 3


def test_only_verification_s_verdicts_pass_to_copies(tmp_path: Path) -> None:
    """Capture data's "two shots" is a fact of the rows (EXIF, or a source's metadata where
    EXIF is silent), not of the bytes: a copy from another source does not inherit it."""
    folder = tmp_path / "photos"
    _photos(folder / "2024")
    shutil.copytree(folder / "2024", folder / "2024 backup")
    _, images, _ = _scan(tmp_path, folder)
    runtime = build_runtime(make_settings(tmp_path / "state"))
    try:
        with Session(runtime.ctx.engine) as session:
            by_name: dict[str, list[Image]] = {}
            for image in images:
                by_name.setdefault(Path(image.source_id or "").name, []).append(image)
            (l1, l2), (r1, r2) = by_name["left.jpg"], by_name["right.jpg"]
            owner, shas = l1.owner_id, (l1.content_sha256, r1.content_sha256)
            keys = [(min(a.id, b.id), max(a.id, b.id)) for a in (l1, l2) for b in (r1, r2)]
            stored = [session.get(ImagePair, k) for k in keys]
            assert all(p is not None and p.verdict == "other_shot" for p in stored)
            # Only the first pair keeps a verdict, one the capture data gave.
            for p in stored[1:]:
                assert p is not None
                p.verdict, p.explained = None, None
            first = stored[0]
            assert first is not None
            first.explained, first.decided_by = None, "taken 3 min apart"
            session.flush()
            wanted = {keys[3]: shas}
            assert stored_verdicts(session, owner, wanted) == {}  # nothing verified it
            # A verdict verification gave passes.
            first.explained = 0.6
            session.flush()
            assert stored_verdicts(session, owner, wanted) == {keys[3]: first}
            # Its own verdict comes first.
            last = stored[3]
            assert last is not None
            last.verdict = "copy"
            session.flush()
            assert stored_verdicts(session, owner, wanted) == {keys[3]: last}
            # Another person's pairs never answer.
            assert stored_verdicts(session, owner + 1, wanted) == {}
    finally:
        runtime.close()


def test_a_copy_whose_twin_is_unreadable_is_analysed_itself(tmp_path: Path) -> None:
    """The picture a content's copies wait on cannot be read (a file moved away in the middle
    of a scan): each copy is decoded and run through the models itself."""
    folder = tmp_path / "photos"
    _photos(folder / "2024")
    shutil.copytree(folder / "2024", folder / "2024 backup")
    settings = make_settings(tmp_path / "state")  # models off: hashes only
    runtime = build_runtime(settings)
    try:
        scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
    finally:
        runtime.close()
    runtime = build_runtime(make_settings(tmp_path / "state", **MODELS_ON))
    try:
        with runtime.ctx.session(write=True) as session:
            images = list(session.exec(select(Image).order_by(Image.id)).all())
            for image in images:
                image.state = ImageState.HASHED
                session.add(image)
        gone = images[0]  # the first copy of its content the models would read
        Path(gone.storage_key.removeprefix("file:")).unlink()
        analyse_with_models(runtime.ctx, gone.owner_id)
        with Session(runtime.ctx.engine) as session:
            embedded = set(session.exec(select(ImageEmbedding.image_id)).all())
    finally:
        runtime.close()
    twin = next(i for i in images[1:] if i.content_sha256 == gone.content_sha256)
    assert gone.id not in embedded
    assert twin.id in embedded
    assert embedded == {i.id for i in images} - {gone.id}


def _verification(verdict: verify.Verdict) -> verify.Verification:
    return verify.Verification(verdict, 0.9, 0.5, None, 10, "keypoints")


def test_the_verdict_cache_takes_either_order_and_forgets_the_oldest() -> None:
    cache = VerdictCache(limit=2)
    copy, other = _verification(verify.Verdict.COPY), _verification(verify.Verdict.OTHER_SHOT)
    cache.put(1, "a", "b", copy)
    assert cache.get(1, "b", "a") is copy
    assert cache.get(2, "a", "b") is None  # one person's pictures never answer for another's
    cache.put(1, "a", "c", other)
    cache.get(1, "a", "b")  # used: "a"-"c" is now the oldest
    cache.put(1, "b", "c", other)
    assert cache.get(1, "a", "c") is None
    assert cache.get(1, "a", "b") is copy and cache.get(1, "c", "b") is other
    # Unknown contents, or one content twice, are never kept.
    cache.put(1, None, "a", copy)
    cache.put(1, "a", "a", copy)
    assert cache.get(1, None, "a") is None and cache.get(1, "a", "a") is None
    assert len(cache) == 2
