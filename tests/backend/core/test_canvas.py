"""Blank canvas on real photographs: a turned copy's corners and an added border are counted
out of its detail; a photograph's own corners are not."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps

from backend.core.canvas import blank_share
from backend.core.decode import DecodeLimits
from backend.core.features import extract_features
from backend.core.keeper import Candidate, suggest_keeper
from tests.helpers.photos import decoded, jpeg, skimage_photo

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png")


@pytest.mark.parametrize("name", PHOTOS)
def test_a_photograph_has_no_blank_canvas(name: str) -> None:
    assert blank_share(decoded(jpeg(skimage_photo(name)))) == 0.0


@pytest.mark.parametrize("name", PHOTOS)
def test_a_copy_turned_on_an_enlarged_canvas_has_blank_corners(name: str) -> None:
    photo = skimage_photo(name)
    turned = photo.rotate(10, expand=True, resample=Image.Resampling.BICUBIC)
    # The corners a turn by 10 degrees adds to the canvas, as a share of it.
    added = 1 - photo.width * photo.height / (turned.width * turned.height)
    share = blank_share(decoded(jpeg(turned)))
    # Dark edges of the photograph next to a black corner may join it: never less.
    assert added - 0.02 <= share <= added + 0.15


@pytest.mark.parametrize("name", PHOTOS)
def test_a_border_is_blank(name: str) -> None:
    photo = skimage_photo(name)
    framed = ImageOps.expand(photo, border=photo.width // 10, fill="white")
    added = 1 - photo.width * photo.height / (framed.width * framed.height)
    assert blank_share(decoded(jpeg(framed))) == pytest.approx(added, abs=0.02)


@pytest.mark.parametrize("name", PHOTOS)
def test_the_original_is_kept_over_its_turned_and_framed_copies(name: str) -> None:
    """More pixels of blank canvas are not more detail: the copies tie with the original on
    resolution, and its name (no copy marker) decides, as it would for copies of one size."""
    photo = skimage_photo(name)
    versions = {
        "IMG_1 (1).jpg": ImageOps.expand(photo, border=photo.width // 10, fill="white"),
        "IMG_1-edited.jpg": photo.rotate(10, expand=True, resample=Image.Resampling.BICUBIC),
        "IMG_1.jpg": photo,
    }
    limits = DecodeLimits()
    candidates = []
    for i, (filename, im) in enumerate(versions.items(), start=1):
        f = extract_features(jpeg(im), filename, limits)
        candidates.append(
            Candidate(
                id=i,
                width=f.width,
                height=f.height,
                # The same bytes each: the file size says nothing either way.
                size_bytes=100_000,
                format=f.format,
                blank_share=f.blank_share,
                filename=filename,
            )
        )
    assert suggest_keeper(candidates).image_id == 3
    # Without the blank counted out, the larger canvas would have won.
    flat = [Candidate(**{**c.__dict__, "blank_share": 0.0}) for c in candidates]
    assert suggest_keeper(flat).image_id != 3
