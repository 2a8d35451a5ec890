"""Pictures prepared for verification are kept between grouping runs, within a memory budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.core.decode import DecodeLimits
from backend.core.verify import Prepared, prepare, reduce
from backend.services.grouping.candidates import Known
from backend.services.grouping.picture_cache import (
    PICTURES,
    REDUCED,
    PreparedPictures,
    ReducedPictures,
    _size,
)
from backend.services.grouping.prepare import prepare_picture
from backend.services.storage.blobstore import LocalBlobStore
from tests.helpers.photos import skimage_photo


def test_kept_until_the_budget_needs_room_least_recent_first() -> None:
    photos = {n: prepare(skimage_photo(n)) for n in ("chelsea.png", "coffee.png", "astronaut.png")}
    sizes = sorted(_size(p) for p in photos.values())
    cache = PreparedPictures(budget=sizes[-1] + sizes[-2])  # room for two of them
    made: list[str] = []

    def maker(name: str) -> Prepared:
        made.append(name)
        return photos[name]

    assert cache.get("chelsea.png", lambda: maker("chelsea.png")) is photos["chelsea.png"]
    assert cache.get("coffee.png", lambda: maker("coffee.png")) is photos["coffee.png"]
    assert cache.get("chelsea.png", lambda: maker("chelsea.png")) is photos["chelsea.png"]
    assert made == ["chelsea.png", "coffee.png"]  # the second look found it kept
    cache.get("astronaut.png", lambda: maker("astronaut.png"))  # coffee: least recently used
    assert len(cache) == 2
    cache.get("chelsea.png", lambda: maker("chelsea.png"))
    cache.get("coffee.png", lambda: maker("coffee.png"))
    assert made == ["chelsea.png", "coffee.png", "astronaut.png", "coffee.png"]


def test_an_unreadable_picture_is_not_kept() -> None:
    cache = PreparedPictures()
    calls: list[int] = []

    def unreadable() -> None:
        calls.append(1)

    assert cache.get("gone", unreadable) is None
    assert cache.get("gone", unreadable) is None
    assert len(calls) == 2 and len(cache) == 0


def test_a_reduced_picture_is_taken_once_within_its_budget() -> None:
    greys = {n: reduce(skimage_photo(n)) for n in ("chelsea.png", "coffee.png", "astronaut.png")}
    cache = ReducedPictures(budget=greys["chelsea.png"].nbytes + greys["coffee.png"].nbytes)
    for name in ("chelsea.png", "coffee.png"):
        cache.put(name, greys[name])
    assert cache.take("chelsea.png") is greys["chelsea.png"]
    assert cache.take("chelsea.png") is None  # taken: verification keeps the prepared one
    cache.put("astronaut.png", greys["astronaut.png"])  # the oldest goes to make room
    assert cache.take("coffee.png") is None
    assert cache.take("astronaut.png") is greys["astronaut.png"]


def test_verification_prepares_the_models_decode_without_decoding_again(tmp_path: Path) -> None:
    """The models' decode was kept: the picture is prepared from it, though its blob can no
    longer be read; the same keypoints as from a decode."""
    photo = skimage_photo("coffee.png")
    key = "file:kept-by-the-models.jpg"
    REDUCED.put(key, reduce(photo))
    try:
        item = Known(1, None, photo.width, photo.height, None, key)
        prepared = prepare_picture(LocalBlobStore(tmp_path), item, DecodeLimits())
        assert prepared is not None
        assert np.array_equal(prepared.keypoints, prepare(photo).keypoints)
        assert REDUCED.take(key) is None  # used once, then kept prepared
    finally:  # the caches are the process's: leave nothing behind for other tests
        REDUCED.take(key)
        PICTURES.take(key)
