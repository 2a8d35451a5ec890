"""The distributed mode's real parts: PostgreSQL, a private Redis, Celery worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.config import Settings
from tests.helpers.app import make_settings
from tests.helpers.distributed import PrivateRedis, private_redis
from tests.helpers.postgres import temporary_database


@dataclass
class Cluster:
    settings: Settings
    env: dict[str, str]  # what a worker process on another machine would be configured with
    redis: PrivateRedis
    logs: Path


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    data = tmp_path / "data"
    with temporary_database() as url, private_redis(tmp_path) as redis:
        env = {
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis.url,
            "DUPFINDER_DATA_DIR": str(data),  # the shared image store (one machine here)
            "DUPFINDER_SWEEP_SECONDS": "3",
            "DUPFINDER_VISIBILITY_TIMEOUT": "30",
            "DUPFINDER_AUTO_MIGRATE": "false",
        }
        settings = make_settings(
            data,
            DATABASE_URL=url,
            CELERY_BROKER_URL=redis.url,
            DUPFINDER_SWEEP_SECONDS=3,
            DUPFINDER_VISIBILITY_TIMEOUT=30,
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        yield Cluster(settings, env, redis, logs)
