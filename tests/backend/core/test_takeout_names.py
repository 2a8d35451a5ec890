"""Takeout's sidecar naming quirks, one by one (the rules of immich-go and GPTH)."""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.core.takeout import (
    SidecarKey,
    album_title,
    index_sidecars,
    is_item_sidecar,
    is_photos_folder,
    is_year_folder,
    match_sidecar,
    media_name,
    parse_sidecar,
    sidecar_key,
)

LONG = "PXL_20230917_101112345.PORTRAIT.ORIGINAL_IMAGE_01.jpg"  # 52 characters


@pytest.mark.parametrize(
    ("sidecar", "key"),
    [
        ("IMG_1.jpg.json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg.supplemental-metadata.json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg.supplemental-metad.json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg.supp.json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg.s.json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg..json", SidecarKey("IMG_1.jpg", 0)),
        ("IMG_1.jpg(1).json", SidecarKey("IMG_1.jpg", 1)),
        ("IMG_1(1).jpg.json", SidecarKey("IMG_1.jpg", 1)),
        ("IMG_1.jpg.supplemental-metadata(2).json", SidecarKey("IMG_1.jpg", 2)),
        ("IMG_1.jpg.supplemental-meta(3).json", SidecarKey("IMG_1.jpg", 3)),
        ("IMG_1.json", SidecarKey("IMG_1", 0)),
        ("notes.txt", None),
    ],
)
def test_sidecar_keys(sidecar: str, key: SidecarKey | None) -> None:
    assert sidecar_key(sidecar) == key


def test_media_names() -> None:
    assert media_name("IMG(1).jpg").original == "IMG.jpg"
    assert media_name("IMG(1).jpg").number == 1
    assert media_name("IMG-edited.jpg").original == "IMG.jpg"
    assert media_name("IMG-bearbeitet.JPG").original == "IMG.JPG"
    assert media_name("IMG-modifié.jpg").edited == "-modifié"
    assert media_name("IMG-edited(1).jpg").original == "IMG.jpg"


def match(photo: str, *sidecars: str) -> str | None:
    return match_sidecar(photo, index_sidecars(sidecars))


@pytest.mark.parametrize(
    ("photo", "sidecar"),
    [
        ("IMG_1.jpg", "IMG_1.jpg.json"),
        ("IMG_1.jpg", "IMG_1.jpg.supplemental-metadata.json"),
        (
            "IMG_20190512_123456789_BURST001_COVER.jpg",
            "IMG_20190512_123456789_BURST001_COVER.jpg.s.json",
        ),
        ("IMG_20190512_1234_COVER.jpg", "IMG_20190512_1234_COVER.jpg.supplemental-met.json"),
        ("IMG_1(1).jpg", "IMG_1.jpg(1).json"),
        ("IMG_1(1).jpg", "IMG_1(1).jpg.json"),
        ("IMG_1(1).jpg", "IMG_1.jpg.supplemental-metadata(1).json"),
        ("IMG_1.jpg", "IMG_1.json"),  # without the photo's extension
        ("IMG_1.HEIC", "IMG_1.HEIC.json"),
        ("IMG_1-edited.jpg", "IMG_1.jpg.json"),  # shares the original's
        ("IMG_1-bearbeitet.jpg", "IMG_1.jpg.supplemental-metadata.json"),
        ("IMG_1-modifié.jpg", "IMG_1.jpg.json"),
        (LONG, LONG[:46] + ".json"),  # a long name clipped in the sidecar's name
        (LONG[:43] + ".jpg", LONG[:46] + ".json"),  # and in the photo's own name
        (LONG[:43] + ".jpg", LONG + ".supplemental-metadata.json"),
        (
            "original_1d4caa6f-16c6-4c3d-901b-9387de10e528_P.jpg",
            "original_1d4caa6f-16c6-4c3d-901b-9387de10e528_.json",
        ),
        ("Ünïcødé.jpg", "Ünïcødé.jpg.json"),
    ],
)
def test_each_quirk_finds_its_sidecar(photo: str, sidecar: str) -> None:
    decoys = ("IMG_2.jpg.json", "IMG_1.jpg(2).json", "other.json")
    assert match(photo, sidecar, *decoys) == sidecar


def test_numbered_copies_keep_their_own_sidecars() -> None:
    sidecars = ("IMG.jpg.json", "IMG.jpg(1).json", "IMG.jpg(2).json")
    assert match("IMG.jpg", *sidecars) == "IMG.jpg.json"
    assert match("IMG(1).jpg", *sidecars) == "IMG.jpg(1).json"
    assert match("IMG(2).jpg", *sidecars) == "IMG.jpg(2).json"
    assert match("IMG(3).jpg", *sidecars) is None


def test_no_sidecar_is_invented() -> None:
    assert match("IMG_1.jpg", "IMG_10.jpg.json", "IMG_2.json") is None
    assert match("IMG_1-edited.jpg") is None
    # A short name is never taken for a clipped prefix of a longer one.
    assert match("IMG_12345.jpg", "IMG_123.json") is None


def test_an_edited_copy_prefers_its_own_sidecar() -> None:
    assert match("IMG-edited.jpg", "IMG.jpg.json", "IMG-edited.jpg.json") == "IMG-edited.jpg.json"


def test_folders() -> None:
    for name in ("Google Photos", "Google Fotos", "Google Foto", "google photos"):
        assert is_photos_folder(name)
    assert not is_photos_folder("Google Drive")
    for name in ("Photos from 2019", "Fotos von 2019", "Photos de 2008", "Foto dal 2021"):
        assert is_year_folder(name)
    assert not is_year_folder("Trip to Rome")


def test_parse_sidecar() -> None:
    data = {
        "title": "IMG_1.jpg",
        "description": "Rome, day 2",
        "photoTakenTime": {"timestamp": "1560000000", "formatted": "..."},
        "creationTime": {"timestamp": "1660000000"},
        "geoData": {"latitude": 0.0, "longitude": 0.0},
        "geoDataExif": {"latitude": 41.9, "longitude": 12.5},
        "url": "https://photos.google.com/photo/AF1Qip",
        "favorited": True,
    }
    sidecar = parse_sidecar(data)
    assert sidecar.taken_at == datetime(2019, 6, 8, 13, 20)
    assert (sidecar.latitude, sidecar.longitude) == (41.9, 12.5)
    assert sidecar.title == "IMG_1.jpg" and sidecar.description == "Rome, day 2"
    assert sidecar.url == "https://photos.google.com/photo/AF1Qip"
    assert sidecar.favorited and not sidecar.trashed
    # 0,0 is "no place"; geoData stands in when geoDataExif is empty.
    assert (
        parse_sidecar(
            {"photoTakenTime": {}, "geoDataExif": {"latitude": 0, "longitude": 0}}
        ).latitude
        is None
    )
    assert parse_sidecar({"geoData": {"latitude": 1.5, "longitude": 2.5}}).longitude == 2.5
    # Malformed is left out, never fatal; only https links are kept.
    broken = parse_sidecar(
        {"photoTakenTime": {"timestamp": "x"}, "url": "javascript:1", "trashed": True}
    )
    assert broken.taken_at is None and broken.url is None and broken.trashed
    assert parse_sidecar([1, 2]).title is None
    assert is_item_sidecar(data) and not is_item_sidecar({"title": "Trip", "date": {}})
    assert album_title({"title": "Trip", "date": {}}) == "Trip" and album_title(data) is None
