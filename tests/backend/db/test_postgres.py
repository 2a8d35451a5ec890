"""The whole service on PostgreSQL: the same code, the server mode's database."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from backend.core.perceptual import to_unsigned, unpack_codes
from backend.models import Image
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service, settle, together
from tests.helpers.postgres import temporary_database


def test_upload_group_and_decide_on_postgresql(tmp_path: Path) -> None:
    with temporary_database() as url:
        settings = make_settings(tmp_path, DATABASE_URL=url)
        with service(settings) as (client, runtime):
            person = Person.sign_up(client, runtime, "pg@example.com")
            batch = person.upload(img.camera_batch())
            assert person.job(batch["job_id"])["done"] == 7
            assert [names(g) for g in person.groups("exact")] == [img.EXACT_NAMES]
            assert [names(g) for g in person.groups("near")] == [img.NEAR_NAMES]
            with Session(runtime.engine) as session:
                for image in session.exec(select(Image)):  # 64-bit hashes survive BIGINT
                    assert image.phash is not None and image.phash_dihedral is not None
                    assert to_unsigned(image.phash) == unpack_codes(image.phash_dihedral)[0]

            ids = person.ids(batch)
            (exact,) = person.groups("exact")
            assert person.post(f"/duplicates/groups/{exact['id']}/dismiss").status_code == 200
            settle(runtime)
            assert not together(person.groups(), ids["original.jpg"], ids["copy.jpg"])
            assert client.get("/health").json()["database"] == "ok"
