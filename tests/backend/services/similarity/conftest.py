"""The vector indexes on real databases built by the real migrations: a SQLite file, PostgreSQL
18 with pgvector (embedded, one server per session: ``pgvector_url`` from tests/conftest.py)
and the local Debian PostgreSQL 15 without pgvector; each behind whatever
``make_vector_index`` picks for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from backend.db.engine import make_engine, writer
from backend.db.migrate import upgrade
from backend.models import Image, ImageEmbedding, IngestionMode, User
from backend.services.similarity import VectorIndex, make_vector_index
from tests.helpers.postgres import temporary_database

MODEL = "sscd-test"
DIM = 16


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vectors.sqlite3'}"


@pytest.fixture
def pg15_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@dataclass
class Db:
    engine: Engine
    index: VectorIndex

    def owner(self, email: str) -> int:
        with Session(writer(self.engine)) as session:
            user = User(email=email, hashed_password="x")
            session.add(user)
            session.commit()
            assert user.id is not None
            return user.id

    def add(
        self,
        owner_id: int,
        vectors: NDArray[np.float32],
        model: str = MODEL,
        session: Session | None = None,
    ) -> list[int]:
        """One image and its embedding per vector, as the writer stores them; committed unless
        a session is given. Returns the image ids."""
        if session is not None:
            return add_rows(session, self.index, owner_id, vectors, model)
        with Session(writer(self.engine)) as own:
            ids = add_rows(own, self.index, owner_id, vectors, model)
            own.commit()
            return ids

    def delete_images(self, image_ids: Sequence[int]) -> None:
        with Session(writer(self.engine)) as session:
            session.execute(sa.delete(Image).where(col(Image.id).in_(image_ids)))
            session.commit()

    def search(
        self,
        owner_id: int,
        queries: NDArray[np.float32],
        k: int = 10,
        min_similarity: float = -1.0,
        model: str = MODEL,
    ) -> list[list[tuple[int, float]]]:
        with Session(self.engine) as session:
            found = self.index.search(session, owner_id, model, queries, k, min_similarity)
        return [[(n.image_id, n.similarity) for n in row] for row in found]


def add_rows(
    session: Session, index: VectorIndex, owner_id: int, vectors: NDArray[np.float32], model: str
) -> list[int]:
    images = [
        Image(owner_id=owner_id, source=IngestionMode.UPLOAD, filename="p.jpg", storage_key="k")
        for _ in vectors
    ]
    session.add_all(images)
    session.flush()
    rows = [
        ImageEmbedding(
            image_id=image.id,
            owner_id=owner_id,
            model_name=model,
            dimension=int(vector.shape[0]),
            vector=np.asarray(vector, dtype="<f4").tobytes(),
        )
        for image, vector in zip(images, vectors, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    index.store(session, rows)
    return [image.id for image in images if image.id is not None]


def open_db(url: str, exact_limit: int = 20_000) -> Db:
    upgrade(url)
    engine = make_engine(url)
    return Db(engine, make_vector_index(engine, exact_limit))


def unit(rng: np.random.Generator, n: int, d: int = DIM) -> NDArray[np.float32]:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> NDArray[np.float32]:
    """Embedding-like: unit vectors around random centres (neighbours worth finding)."""
    centres = unit(rng, clusters, d)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * unit(rng, n, d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact(
    vectors: NDArray[np.float32], ids: Sequence[int], query: NDArray[np.float32], k: int
) -> list[tuple[int, float]]:
    sims = vectors @ query
    order = np.argsort(-sims, kind="stable")[:k]
    return [(ids[i], float(sims[i])) for i in order]


@pytest.fixture(params=["sqlite", "pgvector", "postgres-without-pgvector"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    """Each index on its database, as the factory picks it."""
    url = request.getfixturevalue(
        {"sqlite": "sqlite_url", "pgvector": "pgvector_url"}.get(request.param, "pg15_url")
    )
    opened = open_db(url)
    expected = "pgvector-hnsw" if request.param == "pgvector" else "in-process"
    assert opened.index.name.startswith(expected)
    try:
        yield opened
    finally:
        opened.engine.dispose()
