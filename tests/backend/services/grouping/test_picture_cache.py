"""Pictures prepared for verification are kept between grouping runs, within a memory budget."""

from __future__ import annotations

from backend.core.verify import Prepared, prepare
from backend.services.grouping.picture_cache import PreparedPictures, _size
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
