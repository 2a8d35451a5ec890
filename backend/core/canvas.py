"""How much of a picture's canvas is picture.

A copy turned by a few degrees on an enlarged canvas has blank corners; a copy with a border
or a frame added has a blank margin. Both have more pixels than the photograph they copy, but
no more detail, so the keeper rules count the blank out (``core.keeper``, ``resolution``).

Blank is the colour of the four corners, where the four share one colour, and what is
connected to them in that colour, where all of it is flat: a turned copy's corner triangles,
a border. A photo whose
corners differ (sky above, ground below) has no blank; one on a plain backdrop that reaches
all four corners has its backdrop counted out, as have its copies, so their order holds.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# Grey levels per channel a blank pixel may stray from its corner's colour (JPEG noise on a
# flat area), and the corners from one another.
TOLERANCE = 6
# Grey levels of spread (per channel) a blank canvas has at most: a turn's corners or a border
# are one colour; the dark corners of a night shot or a vignette are noisy gradients.
FLAT = 2.0


def blank_share(picture: Image.Image) -> float:
    """The share of ``picture`` that is blank canvas reached from its corners (0 to 1)."""
    # A writable copy: OpenCV's flood fill asks for one even when it only marks its mask.
    rgb = np.array(picture.convert("RGB"), dtype=np.uint8)
    h, w = rgb.shape[:2]
    if h < 8 or w < 8:
        return 0.0
    seeds = ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))
    colours = np.array([rgb[y, x] for x, y in seeds], dtype=np.int16)
    if int((colours.max(axis=0) - colours.min(axis=0)).max()) > TOLERANCE:
        return 0.0  # the corners differ: they are the photograph's own
    mask = np.zeros((h + 2, w + 2), np.uint8)
    tolerance = (TOLERANCE,) * 3
    # Each pixel compared with the corner's colour (a fixed range), not with its neighbour's:
    # a gradient (a sky) does not creep in step by step.
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    for x, y in seeds:
        if not mask[y + 1, x + 1]:
            cv2.floodFill(rgb, mask, (x, y), (0, 0, 0), tolerance, tolerance, flags)
    blank = mask[1:-1, 1:-1]
    if not blank.any():
        return 0.0
    if float(rgb[blank > 0].std(axis=0).max()) > FLAT:
        return 0.0  # a dark or pale part of the photograph (night, vignetting), not a fill
    # The pixels along the blank's edge blend it with the picture (resampling, JPEG ringing):
    # half blank each, and a ring of them is a few per cent of a thumbnail. Counted in.
    return float(cv2.dilate(blank, np.ones((3, 3), np.uint8)).mean())
