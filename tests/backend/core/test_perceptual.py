"""The dihedral pHash: copies of a photo land close, different photos far apart."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from backend.core.decode import DecodeLimits
from backend.core.features import extract_features
from backend.core.perceptual import (
    hamming,
    luma,
    pack_codes,
    to_signed,
    to_unsigned,
    trim_border,
    unpack_codes,
)
from tests.helpers import images as img

NEAR = 8  # the default near distance (Settings.near_distance)
SEEDS = (1, 2, 3)


def variants(data: bytes) -> list[int]:
    """The eight hashes the service stores for a file (through its public entry point)."""
    return list(extract_features(data, None, DecodeLimits()).phash_variants)


def distance(copy: bytes, original: bytes) -> int:
    """As grouping measures it: the copy's eight variants against the original's upright hash."""
    upright = variants(original)[0]
    return min(hamming(v, upright) for v in variants(copy))


EDITS: dict[str, Callable[[bytes], bytes]] = {
    "resized": img.resized,
    "quality 30": img.reencoded,
    "flipped": img.flipped,
    "rotated 90": img.rotated,
    "greyscale": img.greyscaled,
    "brightened": img.brightened,
    "bordered": img.bordered,
    "black border": lambda d: img.bordered(d, 30, (0, 0, 0)),
    "lossless png": img.lossless_png,
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_copy_is_near(edit: str, seed: int) -> None:
    original = img.jpeg(seed, (400, 300))
    assert distance(EDITS[edit](original), original) <= NEAR


def test_different_photos_are_far_apart() -> None:
    photos = [img.jpeg(seed) for seed in range(10, 18)]
    closest = min(
        distance(a, b) for i, a in enumerate(photos) for b in photos[i + 1 :]  # noqa: E203
    )
    assert closest > 2 * NEAR


def test_variants_are_the_hashes_of_the_flipped_and_turned_pictures() -> None:
    original = img.jpeg(4, (300, 300))
    mine = variants(original)
    assert len(mine) == 8 and len(set(mine)) == 8
    for edit in (img.flipped, img.rotated):
        upright_of_copy = variants(edit(original))[0]
        assert min(hamming(upright_of_copy, v) for v in mine) <= 4


def test_transparent_areas_are_laid_on_white() -> None:
    rgba = img.photo(1, (64, 64)).convert("RGBA")
    rgba.putalpha(0)
    assert float(luma(rgba).min()) == 255.0


class TestTrimBorder:
    def picture(self) -> np.ndarray:
        return np.asarray(img.photo(5, (200, 160)).convert("L"), dtype=np.float32)

    def test_frame_is_removed(self) -> None:
        inner = self.picture()
        framed = np.pad(inner, 20, constant_values=255.0)
        trimmed = trim_border(framed)
        assert abs(trimmed.shape[0] - inner.shape[0]) <= 2
        assert abs(trimmed.shape[1] - inner.shape[1]) <= 2

    def test_letterbox_is_removed(self) -> None:
        inner = self.picture()
        boxed = np.pad(inner, ((30, 30), (0, 0)), constant_values=0.0)
        assert abs(trim_border(boxed).shape[0] - inner.shape[0]) <= 2

    def test_one_uniform_side_is_kept(self) -> None:
        inner = self.picture()
        sky = np.pad(inner, ((25, 0), (0, 0)), constant_values=255.0)
        assert trim_border(sky).shape == sky.shape

    def test_never_trims_more_than_a_share_of_each_side(self) -> None:
        flat = np.full((100, 100), 128.0, dtype=np.float32)
        h, w = trim_border(flat).shape
        assert h >= 39 and w >= 39

    def test_picture_without_border_is_unchanged(self) -> None:
        pic = self.picture()
        assert trim_border(pic).shape == pic.shape


class TestCodes:
    @pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1])
    def test_signed_round_trip(self, value: int) -> None:
        signed = to_signed(value)
        assert -(1 << 63) <= signed < (1 << 63)
        assert to_unsigned(signed) == value

    def test_pack_round_trip(self) -> None:
        codes = [0, 1, (1 << 64) - 1, 0x0123456789ABCDEF]
        assert len(pack_codes(codes)) == 32
        assert unpack_codes(pack_codes(codes)) == codes

    def test_hamming(self) -> None:
        assert hamming(0b1011, 0b0001) == 2 and hamming(5, 5) == 0


def test_the_dct_is_scipys_and_a_flat_picture_hashes_the_same_every_time() -> None:
    """The low DCT block, two small matrix products, gives SciPy's orthonormal DCT-II to
    rounding (and so the same hashes); a flat picture's coefficients are exactly 0."""
    from scipy.fft import dctn

    from backend.core import perceptual

    for seed in range(12):
        grey = np.asarray(img.photo(seed, (400, 300)).convert("L"), dtype=np.float32)
        grid = perceptual._grid(perceptual.trim_border(grey))
        ours = perceptual.dihedral_blocks(grey)[0]
        np.testing.assert_allclose(ours, dctn(grid, type=2, norm="ortho")[:8, :8], atol=1e-8)
    flat = np.full((300, 400), 128, dtype=np.float32)
    assert perceptual.phash_variants(flat) == perceptual.phash_variants(flat.copy())
    assert np.count_nonzero(perceptual.dihedral_blocks(flat)[0]) == 1  # the mean only
