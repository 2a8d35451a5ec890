"""Images analysed before the blank canvas was measured get it at the next start-up, from
their stored thumbnails, so the keeper counts detail for the whole library."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from sqlmodel import Session, col, select

from backend.models import Image
from backend.services.features.canvas_backfill import backfill_blank_share
from tests.helpers import photos
from tests.helpers.app import Person, make_settings, service


def _shares(engine: sa.Engine) -> dict[str, float | None]:
    with Session(engine) as session:
        return dict(session.exec(select(Image.filename, Image.blank_share)).all())


def test_a_library_analysed_before_gets_its_blank_canvas_at_start_up(tmp_path: Path) -> None:
    coffee = photos.skimage_photo("coffee.png")
    turned = coffee.rotate(10, expand=True, resample=PILImage.Resampling.BICUBIC)
    files = [("coffee.jpg", photos.jpeg(coffee)), ("coffee-turned.jpg", photos.jpeg(turned))]
    data = tmp_path / "data"
    with service(make_settings(data)) as (client, runtime):
        person = Person.sign_up(client, runtime, "before@example.com")
        person.upload(files)
        measured = _shares(runtime.engine)
        # As an older version left them: analysed, thumbnails stored, nothing measured.
        with Session(runtime.engine) as session:
            session.execute(sa.update(Image).values(blank_share=None))
            session.commit()

    with service(make_settings(data)) as (client, runtime):
        runtime.start()  # what `dupfinder serve` does at start-up: resume and backfill
        person = Person.sign_in(client, runtime, "before@example.com")
        person.settle()
        # The stored thumbnail, JPEG-encoded, measures within a few points of extraction.
        backfilled = _shares(runtime.engine)
        assert measured["coffee.jpg"] == backfilled["coffee.jpg"] == 0.0
        turned_share = measured["coffee-turned.jpg"] or 0.0
        assert turned_share > 0.15
        assert backfilled["coffee-turned.jpg"] == pytest.approx(turned_share, abs=0.04)
        assert backfill_blank_share(runtime.ctx) == 0  # nothing left to measure
        with Session(runtime.engine) as session:
            assert (
                session.exec(select(Image).where(col(Image.blank_share).is_(None))).first() is None
            )
