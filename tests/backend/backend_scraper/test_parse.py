"""What the scraper reads from the grid: ids, full-size addresses, labels."""

from __future__ import annotations

import pytest

from backend_scraper import parse

LH3 = "https://lh3.googleusercontent.com/pw/AP1GczN0abc_DEF-123"


@pytest.mark.parametrize(
    ("thumb", "full"),
    [
        (f"{LH3}=w256-h192-no?authuser=0", f"{LH3}=d?authuser=0"),
        (f"{LH3}=s512-c", f"{LH3}=d"),
        (f"{LH3}", f"{LH3}=d"),
        (
            "https://photos.fife.usercontent.google.com/pw/AP1Gcz=w400-h300-k-no",
            "https://photos.fife.usercontent.google.com/pw/AP1Gcz=d",
        ),
    ],
)
def test_full_size(thumb: str, full: str) -> None:
    assert parse.full_size(thumb) == full


def test_photo_id() -> None:
    assert parse.photo_id("https://photos.google.com/photo/AF1QipN_x-1234") == "AF1QipN_x-1234"
    assert parse.photo_id("https://photos.google.com/u/1/photo/AF1QipN_x-1234?x=1") == (
        "AF1QipN_x-1234"
    )
    assert parse.photo_id("https://photos.google.com/album/AF1QipN_x-1234") is None
    assert parse.photo_id("https://photos.google.com/photo/short") is None


def test_labels() -> None:
    label = "Photo - IMG 0001 (2).JPG - 4032 × 3024 - Mar 3, 2021, 10:15:21 PM"
    assert parse.taken_at(label) == "2021-03-03T22:15:21"
    assert parse.dimensions(label) == (4032, 3024)
    assert parse.filename(label) == "IMG 0001 (2).JPG"
    bare = "Photo - Landscape - Dec 12, 2019"
    assert (parse.taken_at(bare), parse.dimensions(bare), parse.filename(bare)) == (
        "2019-12-12T00:00:00",
        (None, None),
        None,
    )
    assert parse.taken_at("Photo - Feb 30, 2021") is None


def test_found_photo() -> None:
    entry = {
        "href": "https://photos.google.com/photo/AF1QipAAAA",
        "label": "Photo - a.jpg - 640 × 480 - Jan 2, 2020, 1:02:03 AM",
        "style": f'width: 10px; background-image: url("{LH3}=w256-h256-no");',
        "src": "",
    }
    photo = parse.found_photo(entry, "https://photos.google.com/")
    assert photo is not None
    assert photo.as_item() == {
        "source_id": "AF1QipAAAA",
        "url": f"{LH3}=d",
        "page_url": "https://photos.google.com/photo/AF1QipAAAA",
        "filename": "a.jpg",
        "taken_at": "2020-01-02T01:02:03",
        "width": 640,
        "height": 480,
    }
    assert parse.found_photo({**entry, "style": ""}, "https://photos.google.com/") is None
    with_img = parse.found_photo({**entry, "style": "", "src": f"{LH3}=s100"}, "https://x/")
    assert with_img is not None and with_img.url == f"{LH3}=d"
