"""Resolving a group: what the trashed copies knew and the keeper does not is kept."""

from __future__ import annotations

from datetime import datetime

from backend.models import Image, IngestionMode
from backend.services.decisions import carry_over


def image(**kw: object) -> Image:
    return Image(owner_id=1, source=IngestionMode.UPLOAD, filename="a.jpg", storage_key="k", **kw)


def test_carry_over_fills_only_what_the_keeper_lacks() -> None:
    keeper = image(camera_make="Canon", camera_model="EOS 5D", albums=["Trip"])
    google = image(
        source_url="https://photos.google.com/photo/abc",
        albums=["Trip", "Best of 2021"],
        latitude=48.85,
        longitude=2.35,
        taken_at=datetime(2021, 6, 1, 12, 0, 0),
        taken_subsec=250,
    )
    other_camera = image(camera_make="Nikon", camera_model="D3", taken_at=datetime(2000, 1, 1))
    filled = carry_over(keeper, [google, other_camera])
    assert filled == ["taken_at", "location", "source_url", "albums"]
    assert keeper.taken_at == datetime(2021, 6, 1, 12, 0, 0) and keeper.taken_subsec == 250
    assert (keeper.latitude, keeper.longitude) == (48.85, 2.35)
    assert keeper.camera_model == "EOS 5D"  # its own camera stays
    assert keeper.source_url == "https://photos.google.com/photo/abc"
    assert keeper.albums == ["Trip", "Best of 2021"]
    assert carry_over(keeper, [google]) == []  # nothing left to learn
