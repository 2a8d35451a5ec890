"""Perceptual hashes that survive resizing, re-encoding, colour edits, borders, flips and turns.

The hash is a DCT hash (pHash) of the picture's luma at 32×32 after trimming uniform borders.
Flips and 90° turns of a picture permute and negate its DCT coefficients, so the hashes of all
eight dihedral variants come from one transform without decoding again: store the upright hash,
query with all eight (see bench/RESULTS.md for how this was chosen over PDQ).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIDE = 32  # luma grid the DCT runs on
LOW = 8  # low-frequency block kept: 8×8 = 64 bits
BORDER_TOLERANCE = 14.0  # grey levels; JPEG ringing at a border edge stays below this
MAX_BORDER_SHARE = 0.3  # never trim more than this share of a side


def luma(im: Image.Image) -> NDArray[np.float32]:
    """Luma of an RGB(A) picture; transparent areas are laid on white first."""
    if im.mode == "RGBA":
        back = Image.new("RGB", im.size, (255, 255, 255))
        back.paste(im, mask=im.getchannel("A"))
        im = back
    return np.asarray(im.convert("L"), dtype=np.float32)


def trim_border(grey: NDArray[np.float32]) -> NDArray[np.float32]:
    """Drop uniform frames (mats, letterboxing, added borders) so they do not move the hash."""
    h, w = grey.shape
    corner = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    off = np.abs(grey - corner) >= BORDER_TOLERANCE
    # A line belongs to the frame when at most 2% of its pixels differ from the frame colour.
    row_frame = off.mean(axis=1) <= 0.02
    col_frame = off.mean(axis=0) <= 0.02
    top = _run(row_frame, int(h * MAX_BORDER_SHARE))
    bottom = h - _run(row_frame[::-1], int(h * MAX_BORDER_SHARE))
    left = _run(col_frame, int(w * MAX_BORDER_SHARE))
    right = w - _run(col_frame[::-1], int(w * MAX_BORDER_SHARE))
    # One uniform side is more likely sky or a wall than a frame: a frame has two or more.
    if sum((top > 0, bottom < h, left > 0, right < w)) >= 2:
        return grey[top:bottom, left:right]
    return grey


def _run(flags: NDArray[np.bool_], limit: int) -> int:
    """Length of the leading run of True in ``flags``, at most ``limit``."""
    head = flags[:limit]
    return int(head.argmin()) if not head.all() else len(head)


def _grid(grey: NDArray[np.float32]) -> NDArray[np.float64]:
    im = Image.fromarray(grey.astype(np.float32), "F")
    small = im.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64)


def _bits(block: NDArray[np.float64]) -> int:
    flat = block.ravel()
    above = flat > np.median(flat)
    return int.from_bytes(np.packbits(above).tobytes(), "big")


def _dct_rows(n: int, rows: int) -> NDArray[np.float64]:
    """The first ``rows`` rows of the orthonormal DCT-II matrix of size ``n``."""
    k = np.arange(rows, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    matrix: NDArray[np.float64] = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


# The low block of a 2-D orthonormal DCT-II is two small matrix products: the same numbers as
# SciPy's dctn(type=2, norm="ortho") to rounding, without importing SciPy (a quarter of a
# second at every start of a process that hashes).
_DCT_LOW = _dct_rows(HASH_SIDE, LOW)
_ROUND = 9  # decimals kept: a flat picture's coefficients are 0, not rounding noise


def dihedral_blocks(grey: NDArray[np.float32]) -> list[NDArray[np.float64]]:
    """The 8×8 low DCT block of the picture and of its seven flips and turns.

    A horizontal flip negates odd columns of DCT-II coefficients, a vertical flip odd rows,
    and transposing the picture transposes them; every dihedral transform is a mix of these.
    """
    coeffs = np.round(_DCT_LOW @ _grid(trim_border(grey)) @ _DCT_LOW.T, _ROUND)
    sign = np.where(np.arange(LOW) % 2 == 0, 1.0, -1.0)
    flip_h = coeffs * sign[None, :]
    flip_v = coeffs * sign[:, None]
    rot_180 = flip_h * sign[:, None]
    blocks = [coeffs, flip_h, flip_v, rot_180]
    return blocks + [b.T for b in blocks]


def phash_variants(grey: NDArray[np.float32]) -> list[int]:
    """64-bit hashes of the picture (first) and of its seven dihedral variants."""
    return [_bits(b) for b in dihedral_blocks(grey)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed(value: int) -> int:
    """A 64-bit hash as a signed 64-bit integer: what SQLite and PostgreSQL BIGINT hold."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def pack_codes(codes: Sequence[int]) -> bytes:
    return b"".join(c.to_bytes(8, "big") for c in codes)


def unpack_codes(blob: bytes) -> list[int]:
    return [int.from_bytes(blob[i : i + 8], "big") for i in range(0, len(blob), 8)]
