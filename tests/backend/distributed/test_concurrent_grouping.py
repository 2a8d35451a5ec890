"""Many workers on one person's images at once, on PostgreSQL: no group lost, split or doubled.

Analysis and grouping tasks run on six threads, each with its own database connection, in a
shuffled order, exactly as Celery workers on several machines would interleave them. The
per-owner lock (db/locks.py) is what keeps grouping correct.
"""

from __future__ import annotations

import dataclasses
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from backend.models import Image, ImageState, Job
from backend.runtime import build_runtime
from backend.services.features.extract import extract_image_features
from backend.services.grouping.task import update_owner_groups
from backend.services.ingestion.upload import IncomingFile, ingest_upload
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.postgres import temporary_database


class Recorder:
    """A job queue that only counts: the test itself decides what runs when."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.sent.append((name, kwargs))

    def reachable(self) -> bool:
        return True


def test_interleaved_workers_group_one_owner_correctly(tmp_path: Path) -> None:
    files, expected = img.families(12)
    with temporary_database() as url:
        settings = make_settings(tmp_path, DATABASE_URL=url)
        runtime = build_runtime(settings)
        runtime.close()  # only its migrations and store are wanted: the test runs the tasks
        from backend.db.engine import make_engine

        engine = make_engine(url)
        ctx = dataclasses.replace(runtime.ctx, engine=engine, jobs=Recorder())
        with ctx.session(write=True) as session:
            from backend.models import User

            user = User(email="many@example.com", hashed_password="!")
            session.add(user)
            session.flush()
            assert user.id is not None
            owner = user.id
            result = ingest_upload(
                session,
                ctx.store,
                settings.decode_limits,
                owner,
                (IncomingFile(name, data) for name, data in files),
            )
            session.flush()
            image_ids = [i.id for i in result.images if i.id is not None]
            job_id = result.job.id

        work: list[tuple[Any, dict[str, Any]]] = [
            (extract_image_features, {"image_id": i}) for i in image_ids
        ] + [(update_owner_groups, {"owner_id": owner}) for _ in range(30)]
        random.Random(7).shuffle(work)
        with ThreadPoolExecutor(6) as pool:
            for future in [pool.submit(fn, ctx, **kwargs) for fn, kwargs in work]:
                future.result()  # a task that raised fails the test here
        update_owner_groups(ctx, owner)  # the grouping the last analysis sent

        with Session(engine) as session:
            states = {i.state for i in session.exec(select(Image))}
            job = session.get(Job, job_id)
            assert job is not None
            assert states == {ImageState.READY}
            assert (job.state, job.total, job.done, job.failed) == ("done", 48, 48, 0)

        from tests.helpers.app import names

        groups = _groups(engine, owner)
        near = sorted((names(g) for g in groups if g["tier"] == "near"), key=sorted)
        exact = [names(g) for g in groups if g["tier"] == "exact"]
        assert near == sorted(expected, key=sorted)
        assert sorted(exact, key=sorted) == sorted(
            ({f"p{n}.jpg", f"p{n}-copy.jpg"} for n in range(12)), key=sorted
        )
        engine.dispose()


def _groups(engine: Any, owner: int) -> list[dict[str, Any]]:
    from backend.services.grouping.queries import list_groups

    with Session(engine) as session:
        views, total = list_groups(session, owner, None, 1, 200)
        assert total == len(views)
        return [
            {"tier": v.group.tier.value, "images": [{"filename": i.filename} for i in v.images]}
            for v in views
        ]
