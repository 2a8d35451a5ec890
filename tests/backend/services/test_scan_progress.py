"""A scan's progress moves with the work: hashing image by image, then the models, then
grouping, each phase named and counted up to its total (real photographs, real models)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from backend.models import ImageState
from backend.runtime import build_runtime
from backend.services import scan_progress
from backend.services.scan import scan_folder
from backend.services.scan_progress import GROUPING, HASHING, MODELS
from tests.helpers import photos
from tests.helpers.app import MODELS_ON, make_settings


def photo_folder(root: Path) -> Path:
    root.mkdir()
    for name in photos.SKIMAGE:
        picture = photos.skimage_photo(name)
        stem = name.rsplit(".", 1)[0]
        (root / f"{stem}.jpg").write_bytes(photos.jpeg(picture))
        (root / f"{stem}-crop.jpg").write_bytes(photos.jpeg(photos.crop(picture)))
    (root / "notes.txt").write_bytes(b"not a picture")
    return root


def test_each_phase_counts_up_to_its_total(tmp_path: Path) -> None:
    folder = photo_folder(tmp_path / "photos")
    settings = make_settings(tmp_path / "state", **MODELS_ON, DUPFINDER_MODEL_BATCH_SIZE=2)
    runtime = build_runtime(settings, embedded=True)
    seen: list[tuple[str, int, int]] = []
    try:
        report = scan_folder(
            runtime.ctx, runtime.embedded_worker(), str(folder), lambda *p: seen.append(p)
        )
    finally:
        runtime.close()
    files = 2 * len(photos.SKIMAGE) + 1
    assert report.files == files and len(report.skipped) == 1
    phases = [phase for phase, _, _ in seen]
    assert phases == sorted(phases, key=[HASHING, MODELS, GROUPING].index)  # in this order
    assert set(phases) == {HASHING, MODELS, GROUPING}

    hashing = [(n, total) for phase, n, total in seen if phase == HASHING]
    assert [n for n, _ in hashing] == list(range(files + 1))  # 0, 1, 2 … one image at a time
    assert {total for _, total in hashing} == {files}

    for phase in (MODELS, GROUPING):  # the text file counts as finished from the start
        counts = [n for p, n, total in seen if p == phase and total == files]
        assert len(counts) == len([p for p, _, _ in seen if p == phase])
        assert counts == sorted(set(counts)) and counts[-1] == files
    models = [n for p, n, _ in seen if p == MODELS]
    # Two images per model batch, two models: the count moves in steps of at most a batch.
    assert all(b - a <= 2 for a, b in zip(models[1:], models[2:], strict=False))


def test_a_folder_seen_before_reports_nothing_to_do(tmp_path: Path) -> None:
    folder = photo_folder(tmp_path / "photos")
    settings = make_settings(tmp_path / "state")
    runtime = build_runtime(settings, embedded=True)
    try:
        scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
        seen: list[tuple[str, int, int]] = []
        again = scan_folder(
            runtime.ctx, runtime.embedded_worker(), str(folder), lambda *p: seen.append(p)
        )
    finally:
        runtime.close()
    assert again.analysed == 0
    assert seen == [(HASHING, 0, 0), (GROUPING, 0, 0)]


def test_counting_asks_the_database_only_when_there_is_something_to_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashing is counted from the worker's reports, so the database is asked where the images
    are only for the later phases, and not at all when nothing is shown (``scan -q``): each
    look is a query that competes with the analysis for the interpreter."""
    seen: list[tuple[str, int, int]] = []
    asked_after: list[list[tuple[str, int, int]]] = []  # what had been shown at each query
    real = scan_progress._states

    def states(session: Session, job_id: int | None) -> dict[ImageState, int]:
        asked_after.append(list(seen))
        return real(session, job_id)

    monkeypatch.setattr(scan_progress, "_states", states)
    settings = make_settings(tmp_path / "state")
    runtime = build_runtime(settings, embedded=True)
    try:
        quiet = scan_folder(
            runtime.ctx, runtime.embedded_worker(), str(photo_folder(tmp_path / "a")), None
        )
        assert asked_after == [] and quiet.files == 2 * len(photos.SKIMAGE) + 1
        shown = photo_folder(tmp_path / "b")
        scan_folder(runtime.ctx, runtime.embedded_worker(), str(shown), lambda *p: seen.append(p))
    finally:
        runtime.close()
    total = 2 * len(photos.SKIMAGE) + 1
    assert asked_after, "the later phases are counted from the database"
    assert all((HASHING, total, total) in before for before in asked_after)
    assert (GROUPING, total, total) in seen
