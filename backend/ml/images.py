"""Turning decoded pictures into the arrays the models take."""

from __future__ import annotations

import numpy as np
from PIL import Image

from backend.ml.base import RGBImage


def rgb_array(im: Image.Image) -> RGBImage:
    """H × W × 3 uint8 RGB; transparency is flattened onto white, as a viewer shows it."""
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def resize_square(image: RGBImage, side: int) -> RGBImage:
    """Squashed to ``side`` × ``side`` (aspect not kept): batches need one shape, and copy
    detection embeddings are trained to tolerate it (SSCD's recommended batched inference)."""
    if image.shape[0] == side and image.shape[1] == side:
        return image
    im = Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(im, dtype=np.uint8)
