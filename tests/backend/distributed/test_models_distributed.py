"""The models in distributed mode: Celery worker processes run them on the model queue; the
vector search is pgvector's where the database has it, else each worker's in-process index."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.runtime import build_runtime
from tests.backend.distributed.conftest import Cluster
from tests.backend.services.test_model_pipeline import _library, _names
from tests.helpers.app import MODELS_ON, Person, make_settings
from tests.helpers.distributed import private_redis, worker

EXPECTED = [
    ["astronaut-crop.jpg", "astronaut.jpg"],
    ["bus-crop.jpg", "bus.jpg"],
    ["cat-captioned.jpg", "cat.jpg"],
]


def _run(settings_env: dict[str, str], settings: object, logs: Path) -> tuple[list[list[str]], str]:
    runtime = build_runtime(settings)  # type: ignore[arg-type]
    try:
        with (
            worker(settings_env, logs / "worker.log", concurrency=1),
            TestClient(create_app(settings, runtime)) as client,  # type: ignore[arg-type]
        ):
            person = Person.sign_up(client, runtime, "models@example.com")
            person.upload(_library())
            groups = sorted(sorted(_names(g)) for g in person.groups("near"))
            return groups, client.get("/health").json()["vector_index"]
    finally:
        runtime.close()


def test_models_run_in_celery_workers_without_pgvector(cluster: Cluster) -> None:
    env = {**cluster.env, **MODELS_ON}
    settings = cluster.settings.model_copy(
        update={"copy_model": "sscd", "object_model": "yolov4-tiny"}
    )
    groups, index = _run(env, settings, cluster.logs)
    assert groups == EXPECTED
    assert index.startswith("in-process")  # Debian's PostgreSQL 15 has no pgvector


def test_models_with_pgvector(tmp_path: Path, pgvector_url: str) -> None:
    data = tmp_path / "data"
    with private_redis(tmp_path) as redis:
        env = {
            "DATABASE_URL": pgvector_url,
            "CELERY_BROKER_URL": redis.url,
            "DUPFINDER_DATA_DIR": str(data),
            "DUPFINDER_AUTO_MIGRATE": "false",
            **MODELS_ON,
        }
        settings = make_settings(
            data, DATABASE_URL=pgvector_url, CELERY_BROKER_URL=redis.url, **MODELS_ON
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        groups, index = _run(env, settings, logs)
    assert groups == EXPECTED
    assert index.startswith("pgvector")
    engine = sa.create_engine(pgvector_url)
    with engine.connect() as conn:
        stored, filled = conn.execute(
            sa.text("SELECT count(*), count(embedding) FROM image_embedding")
        ).one()
    engine.dispose()
    assert stored == len(_library()) and filled == stored
