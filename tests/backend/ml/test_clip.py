"""The CLIP image encoder on tiny random-weight exports in Immich's layout."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from numpy.typing import NDArray
from PIL import Image

from backend.ml.base import ModelUnavailable, RGBImage
from backend.ml.clip import ClipImageEncoder, find_clip_model, validate_model_name
from tests.helpers.images import photo
from tests.helpers.tiny_clip import OPENAI_MEAN, OPENAI_STD, write_tiny_clip

NAME = "ViT-B-32__openai"


def rgb(seed: int, size: tuple[int, int] = (320, 240)) -> RGBImage:
    return np.asarray(photo(seed, size), dtype=np.uint8)


def by_hand(image: RGBImage, side: int) -> NDArray[np.float32]:
    """open_clip's "shortest" transform written out: bicubic resize of the short side, centre
    crop, scale to [0, 1], (x - mean) / std, channels first."""
    im = Image.fromarray(image)
    w, h = im.size
    new = (side, round(h * side / w)) if w < h else (round(w * side / h), side)
    # Immich truncates where this rounds; the test images are chosen so both agree.
    assert new == ((side, int(h / w * side)) if w < h else (int(w / h * side), side))
    im = im.resize(new, Image.Resampling.BICUBIC)
    left, top = (new[0] - side) // 2, (new[1] - side) // 2
    im = im.crop((left, top, left + side, top + side))
    x = np.asarray(im, dtype=np.float64) / 255.0
    x = (x - np.array(OPENAI_MEAN)) / np.array(OPENAI_STD)
    chw: NDArray[np.float32] = x.transpose(2, 0, 1).astype(np.float32)
    return chw


def cosine(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def encoder(models_dir: Path) -> ClipImageEncoder:
    write_tiny_clip(models_dir, NAME, size=64, dim=96)
    return ClipImageEncoder(models_dir, NAME, threads=1, batch_size=3)


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (100, 100)])
def test_preprocessing_matches_open_clip_by_hand(
    encoder: ClipImageEncoder, size: tuple[int, int]
) -> None:
    image = rgb(1, size)
    tensor = encoder.preprocess(image)
    assert tensor.shape == (3, 64, 64) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, by_hand(image, 64), atol=1e-5)


def test_the_graph_gets_exactly_the_preprocessed_tensor(
    encoder: ClipImageEncoder, models_dir: Path
) -> None:
    image = rgb(2)
    session = ort.InferenceSession(str(models_dir / NAME / "visual/model.onnx"))
    (direct,) = session.run(None, {"image": by_hand(image, 64)[None]})
    (vector,) = encoder.predict([image])
    np.testing.assert_allclose(vector, direct[0] / np.linalg.norm(direct[0]), atol=1e-5)


def test_squash_mode_resizes_without_cropping(models_dir: Path) -> None:
    write_tiny_clip(models_dir, "squashed", size=32, dim=16, resize_mode="squash")
    encoder = ClipImageEncoder(models_dir, "squashed", threads=1)
    image = rgb(3, (300, 100))
    expected = Image.fromarray(image).resize((32, 32), Image.Resampling.BICUBIC)
    x = (np.asarray(expected, dtype=np.float32) / 255.0 - OPENAI_MEAN) / OPENAI_STD
    np.testing.assert_allclose(encoder.preprocess(image), x.transpose(2, 0, 1), atol=1e-5)


def test_batches_equal_one_by_one_and_vectors_are_unit_length(
    encoder: ClipImageEncoder,
) -> None:
    images = [rgb(seed, (200 + 20 * seed, 150)) for seed in range(7)]
    together = np.stack(encoder.predict(images))  # batches of 3, the last one short
    alone = np.stack([encoder.predict([image])[0] for image in images])
    assert together.shape == (7, 96) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_a_fixed_batch_graph_is_fed_one_image_at_a_time(models_dir: Path) -> None:
    # Immich's newer exports fix the batch at 1; the encoder must still take lists.
    write_tiny_clip(models_dir, "dynamic", size=32, dim=16)
    write_tiny_clip(models_dir, "static", size=32, dim=16, static_batch=1)
    images = [rgb(seed) for seed in range(5)]
    dynamic = ClipImageEncoder(models_dir, "dynamic", threads=1, batch_size=4).predict(images)
    static = ClipImageEncoder(models_dir, "static", threads=1, batch_size=4).predict(images)
    np.testing.assert_allclose(np.stack(static), np.stack(dynamic), atol=1e-6)


def test_a_graph_taking_raw_pixels_gets_them(models_dir: Path) -> None:
    # Graphs that normalise inside take uint8 NHWC pixels; the embeddings must not change.
    write_tiny_clip(models_dir, "float", size=32, dim=16)
    write_tiny_clip(models_dir, "raw", size=32, dim=16, uint8_input=True)
    raw = ClipImageEncoder(models_dir, "raw", threads=1)
    images = [rgb(seed, (200, 300)) for seed in range(3)]
    assert raw.preprocess(images[0]).shape == (32, 32, 3)
    expected = ClipImageEncoder(models_dir, "float", threads=1).predict(images)
    np.testing.assert_allclose(np.stack(raw.predict(images)), np.stack(expected), atol=1e-5)


def test_dimension_comes_from_the_model(encoder: ClipImageEncoder) -> None:
    assert not encoder.loaded
    assert encoder.dimension == 96
    assert encoder.loaded


def test_identity_follows_the_weights(models_dir: Path) -> None:
    write_tiny_clip(models_dir, NAME, seed=0, size=32, dim=16)
    first = ClipImageEncoder(models_dir, NAME)
    identity = first.identity  # available before anything is loaded
    assert identity.startswith(f"clip:{NAME}@") and len(identity.rsplit("@")[1]) == 12
    assert ClipImageEncoder(models_dir, NAME).identity == identity  # stable

    first.load()
    write_tiny_clip(models_dir, NAME, seed=1, size=32, dim=16)
    assert first.identity == identity  # frozen to the weights it runs
    second = ClipImageEncoder(models_dir, NAME)
    assert second.identity != identity
    image = rgb(4)
    assert cosine(first.predict([image])[0], second.predict([image])[0]) < 0.9


def test_identity_before_loading_tracks_a_replaced_file(models_dir: Path) -> None:
    write_tiny_clip(models_dir, NAME, seed=0, size=32, dim=16)
    encoder = ClipImageEncoder(models_dir, NAME)
    before = encoder.identity
    write_tiny_clip(models_dir, NAME, seed=2, size=32, dim=16)
    assert encoder.identity != before


def test_similar_pictures_score_higher_than_unrelated_ones(encoder: ClipImageEncoder) -> None:
    original = photo(10, (480, 360))
    buf = io.BytesIO()
    original.resize((320, 240), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=70)
    copy = np.asarray(Image.open(buf).convert("RGB"))
    others = [rgb(seed, (480, 360)) for seed in range(11, 17)]
    vectors = encoder.predict([np.asarray(original), copy, *others])
    same = cosine(vectors[0], vectors[1])
    unrelated = max(cosine(vectors[0], v) for v in vectors[2:])
    assert same > 0.98
    assert same - unrelated > 0.2


def test_missing_model_says_how_to_fetch_it(models_dir: Path) -> None:
    encoder = ClipImageEncoder(models_dir, NAME)
    assert find_clip_model(models_dir, NAME) is None
    with pytest.raises(ModelUnavailable, match=f"dupfinder models fetch-clip {NAME}"):
        encoder.predict([rgb(0)])
    with pytest.raises(ModelUnavailable, match="copy the folder"):
        _ = encoder.identity


def test_missing_preprocess_config_is_unavailable(models_dir: Path) -> None:
    root = write_tiny_clip(models_dir, NAME, size=32, dim=16)
    (root / "visual/preprocess_cfg.json").unlink()
    assert find_clip_model(models_dir, NAME) == root
    with pytest.raises(ModelUnavailable, match="preprocess_cfg.json is missing"):
        ClipImageEncoder(models_dir, NAME).load()


def test_config_disagreeing_with_the_graph_is_refused(models_dir: Path) -> None:
    root = write_tiny_clip(models_dir, NAME, size=32, dim=16)
    cfg_path = root / "visual/preprocess_cfg.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["size"] = [48, 48]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelUnavailable, match="says 48"):
        ClipImageEncoder(models_dir, NAME).load()


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", ".hidden", "", "x\\y", "a..b"])
def test_names_cannot_leave_the_models_folder(models_dir: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        validate_model_name(bad)
    with pytest.raises(ValueError):
        ClipImageEncoder(models_dir, bad)
