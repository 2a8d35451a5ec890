"""Shared fixtures: the real service on a fresh SQLite file and blob folder per test."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Starlette 1.x nags about httpx at import; the test client works, the warning is noise.
warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")

from fastapi.testclient import TestClient  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.runtime import Runtime  # noqa: E402
from tests.helpers.app import MODELS_OFF, Person, make_settings, service  # noqa: E402
from tests.helpers.pgvector import EmbeddedServer, embedded_pgvector  # noqa: E402

# Also for what reads the environment (the CLI, worker processes): the hash pipeline unless a
# test asks for the models (see tests/helpers/app.py for why).
os.environ.update(MODELS_OFF)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir)


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    with service(settings) as pair:
        yield pair


@pytest.fixture
def runtime(served: tuple[TestClient, Runtime]) -> Runtime:
    return served[1]


@pytest.fixture
def client(served: tuple[TestClient, Runtime]) -> TestClient:
    return served[0]


@pytest.fixture
def alice(client: TestClient, runtime: Runtime) -> Person:
    return Person.sign_up(client, runtime, "alice@example.com")


@pytest.fixture
def bob(client: TestClient, runtime: Runtime) -> Person:
    return Person.sign_up(client, runtime, "bob@example.com")


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[EmbeddedServer]:
    """A throwaway PostgreSQL 18 + pgvector server, started once per session (or a skip)."""
    with embedded_pgvector() as server:
        yield server


@pytest.fixture
def pgvector_url(pgvector_server: EmbeddedServer) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database on that server, dropped afterwards."""
    with pgvector_server.temporary_database() as url:
        yield url
