"""Everything the service learns about one image from its bytes, in one pass."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.core.canvas import blank_share
from backend.core.decode import (
    DecodeLimits,
    ImageHeader,
    decode_reduced,
    full_size_rows,
    open_image,
    probe,
)
from backend.core.metadata import PhotoMetadata, read_metadata
from backend.core.perceptual import luma, phash_variants

# One reduced decode serves the hash (a 32×32 grid) and the thumbnail (256 px on its long side).
THUMBNAIL_SIDE = 256


@dataclass(frozen=True)
class ImageFeatures:
    sha256: str
    format: str
    width: int
    height: int
    frames: int
    is_greyscale: bool
    blank_share: float  # of the canvas, blank (a turned copy's corners, a border): no detail
    phash: int  # upright picture
    phash_variants: tuple[int, ...]  # the eight dihedral variants, upright first
    metadata: PhotoMetadata
    thumbnail_jpeg: bytes


@dataclass(frozen=True)
class PixelFacts:
    """What the reduced decode gives: the part of ``ImageFeatures`` that costs a decode."""

    phash_variants: tuple[int, ...]  # the eight dihedral variants, upright first
    is_greyscale: bool
    blank_share: float
    thumbnail_jpeg: bytes


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixel_digest(data: bytes, limits: DecodeLimits | None = None) -> str:
    """SHA-256 of the decoded, upright pixels: equal for a JPEG and its lossless PNG copy.

    Decodes at full size (within the decode budget; ``ImageRejected`` above it), so it is
    computed only for pairs the cheap hashes already matched; the upright, converted pixels
    are hashed band by band, never copied whole.
    """
    with full_size_rows(data, limits) as rows:
        h = hashlib.sha256(f"{rows.mode}:{rows.width}x{rows.height}:".encode())
        for chunk in rows.chunks:
            h.update(chunk)
    return h.hexdigest()


def _greyscale(thumb: Image.Image) -> bool:
    rgb = np.asarray(thumb, dtype=np.int16)
    spread = np.abs(rgb[..., 0] - rgb[..., 1]).max() + np.abs(rgb[..., 1] - rgb[..., 2]).max()
    return bool(spread <= 16)  # JPEG chroma noise leaves a little colour in grey pictures


def _thumbnail(im: Image.Image) -> Image.Image:
    thumb = im.convert("RGB") if im.mode != "RGB" else im
    scale = THUMBNAIL_SIDE / max(thumb.size)
    if scale < 1:
        size = (max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale)))
        # The input is at most about twice the thumbnail's size: bilinear is sharp enough.
        thumb = thumb.resize(size, Image.Resampling.BILINEAR)
    return thumb


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=82)
    return buf.getvalue()


def read_header(
    data: bytes, filename: str | None, limits: DecodeLimits
) -> tuple[ImageHeader, PhotoMetadata]:
    """Validate the file and read what its header says (``ImageRejected`` when unusable); no
    pixels are decoded."""
    header = probe(data, filename, limits)
    return header, read_metadata(open_image(data))


def decode_pixel_facts(data: bytes, limits: DecodeLimits) -> PixelFacts:
    _, small = decode_reduced(data, THUMBNAIL_SIDE, limits)
    variants = phash_variants(luma(small))
    thumb = _thumbnail(small)
    return PixelFacts(
        phash_variants=tuple(variants),
        is_greyscale=_greyscale(thumb),
        blank_share=round(blank_share(thumb), 3),
        thumbnail_jpeg=_jpeg(thumb),
    )


def extract_features(
    data: bytes,
    filename: str | None,
    limits: DecodeLimits,
    sha256: str | None = None,
    pixels: PixelFacts | None = None,
) -> ImageFeatures:
    """Validate and analyse one file; raises ``ImageRejected`` with a reason when unusable.

    ``pixels``: what a decode of these very bytes gave before (a byte-identical copy's), so
    only the header is read; ``sha256``: the bytes' digest, when the caller has it."""
    header, metadata = read_header(data, filename, limits)
    if pixels is None:
        pixels = decode_pixel_facts(data, limits)
    return ImageFeatures(
        sha256=sha256 or sha256_hex(data),
        format=header.format,
        width=header.width,
        height=header.height,
        frames=header.frames,
        is_greyscale=pixels.is_greyscale,
        blank_share=pixels.blank_share,
        phash=pixels.phash_variants[0],
        phash_variants=pixels.phash_variants,
        metadata=metadata,
        thumbnail_jpeg=pixels.thumbnail_jpeg,
    )
