"""Revision 0004 and the pgvector index on PostgreSQL 18 + pgvector; the same revision on the
local PostgreSQL 15 without pgvector; and which index the factory picks where."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from backend.db.engine import make_engine, writer
from backend.db.migrate import alembic_config, upgrade
from backend.services.similarity import make_vector_index
from backend.services.similarity.factory import _at_least
from backend.services.similarity.in_process import InProcessVectorIndex
from backend.services.similarity.pgvector import (
    INDEXED_DIMENSIONS,
    PgvectorIndex,
    search_statement,
    vector_literal,
)
from tests.backend.services.similarity.conftest import (
    MODEL,
    Db,
    add_rows,
    clustered,
    exact,
    open_db,
    unit,
)

D = 512
MIGRATION_LOGGER = "backend.migrations.0004_pgvector_embeddings"


@pytest.fixture
def pg(pgvector_url: str) -> Iterator[Db]:
    db = open_db(pgvector_url)
    try:
        yield db
    finally:
        db.engine.dispose()


def execute(db: Db, sql: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql))


def schema(url: str) -> tuple[set[str], dict[str, str]]:
    """image_embedding's columns, and its HNSW indexes with their definitions."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            columns = set(
                conn.execute(
                    sa.text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'image_embedding'"
                    )
                ).scalars()
            )
            indexes = dict(
                conn.execute(
                    sa.text(
                        "SELECT indexname, indexdef FROM pg_indexes"
                        " WHERE tablename = 'image_embedding' AND indexdef LIKE '%hnsw%'"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return columns, indexes


def stored_vectors(db: Db) -> dict[int, np.ndarray]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT image_id, embedding::text FROM image_embedding"))
        return {i: np.array(text[1:-1].split(","), dtype=np.float32) for i, text in rows}


def test_migration_adds_the_column_and_indexes_and_check_ignores_them(pgvector_url: str) -> None:
    upgrade(pgvector_url)
    columns, indexes = schema(pgvector_url)
    assert "embedding" in columns and "vector" in columns
    assert set(indexes) == {f"ix_image_embedding_hnsw_{d}" for d in INDEXED_DIMENSIONS}
    for d in INDEXED_DIMENSIONS:
        definition = indexes[f"ix_image_embedding_hnsw_{d}"]
        assert f"USING hnsw (((embedding)::vector({d})) vector_cosine_ops)" in definition
        assert definition.endswith(f"WHERE (dimension = {d})")
    command.check(alembic_config(pgvector_url))  # raises when the models and schema differ

    command.downgrade(alembic_config(pgvector_url), "0003")
    columns, indexes = schema(pgvector_url)
    assert "embedding" not in columns and indexes == {}
    command.downgrade(alembic_config(pgvector_url), "base")  # 0002 can drop the extension
    upgrade(pgvector_url)
    assert "embedding" in schema(pgvector_url)[0]


def test_migration_backfills_existing_rows_bit_for_bit(pgvector_url: str) -> None:
    # Rows stored without the vector column: written at the latest schema (the models' shape)
    # by the in-process index, then the schema taken back to before revision 0004.
    upgrade(pgvector_url)
    engine = make_engine(pgvector_url)
    before = Db(engine, InProcessVectorIndex())
    alice = before.owner("alice@example.com")
    vectors = unit(np.random.default_rng(20), 40, D)
    vectors[0, :4] = [0.0, -0.0, 1e-40, -3.4e38]  # zeros, a subnormal, a huge one
    ids = before.add(alice, vectors)
    engine.dispose()
    command.downgrade(alembic_config(pgvector_url), "0003")

    upgrade(pgvector_url)
    after = open_db(pgvector_url)
    try:
        assert isinstance(after.index, PgvectorIndex)
        got = stored_vectors(after)
        assert all(
            np.array_equal(got[i].view(np.uint32), v.view(np.uint32))
            for i, v in zip(ids, vectors, strict=True)
        )
        found = after.search(alice, vectors[1:4], k=1)
        assert [row[0][0] for row in found] == ids[1:4]
    finally:
        after.engine.dispose()


def test_store_writes_the_vector_column(pg: Db) -> None:
    alice = pg.owner("alice@example.com")
    vectors = unit(np.random.default_rng(21), 5, D)
    ids = pg.add(alice, vectors)
    got = stored_vectors(pg)
    assert all(np.array_equal(got[i], v) for i, v in zip(ids, vectors, strict=True))


def test_search_through_the_index_equals_exact_search(pg: Db) -> None:
    rng = np.random.default_rng(22)
    vectors = clustered(rng, 300, D, clusters=10)
    alice, bob = pg.owner("alice@example.com"), pg.owner("bob@example.com")
    ids = pg.add(alice, vectors)
    pg.add(bob, vectors)
    queries = vectors[:20] + 0.1 * unit(rng, 20, D)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    found = pg.search(alice, queries, k=10, min_similarity=0.3)
    for query, row in zip(queries, found, strict=True):
        want = [(i, s) for i, s in exact(vectors, ids, query, 10) if s >= 0.3]
        assert [i for i, _ in row] == [i for i, _ in want]
        assert np.allclose([s for _, s in row], [s for _, s in want], atol=1e-5)


def explain(db: Db, owner: int, queries: np.ndarray, *settings: str) -> str:
    with Session(db.engine) as session:
        for setting in settings:
            session.execute(sa.text(setting))
        params = {"queries": [vector_literal(q) for q in queries], "owner": owner, "k": 10}
        plan = session.execute(
            sa.text("EXPLAIN " + search_statement(D).text), {**params, "model": MODEL}
        ).scalars()
        return "\n".join(plan)


def test_the_search_uses_the_hnsw_index(pg: Db) -> None:
    """With enough of a person's vectors the planner walks the graph, once per query; with few,
    it sorts that person's rows (exact, and cheaper)."""
    rng = np.random.default_rng(23)
    alice, bob = pg.owner("alice@example.com"), pg.owner("bob@example.com")
    pg.add(alice, clustered(rng, 1500, D, clusters=20))
    pg.add(bob, clustered(rng, 100, D, clusters=20))
    execute(pg, "ANALYZE image_embedding")
    plan = explain(pg, alice, unit(rng, 3, D))
    assert "Index Scan using ix_image_embedding_hnsw_512" in plan, plan
    assert "Order By: ((embedding)::vector(512) <=> q.v)" in plan, plan
    assert "Nested Loop" in plan and "Function Scan on unnest q" in plan, plan
    plan = explain(pg, bob, unit(rng, 3, D))
    # An index scan or a bitmap scan of the owner index: the planner picks either from the
    # sampled statistics (CI saw both); what matters is the exact sort, not the graph.
    assert "Index Scan on ix_image_embedding_owner_id" in plan.replace(
        "Index Scan using ix_image_embedding_owner_id", "Index Scan on ix_image_embedding_owner_id"
    ), plan
    assert "Sort Key: (((e.embedding)::vector(512) <=> q.v))" in plan, plan
    assert "hnsw" not in plan, plan


def test_iterative_scan_finds_a_small_owners_rows_among_many(pg: Db) -> None:
    """Through the HNSW index, a person with 1% of the rows still gets k results: without
    iterative scans the first ef_search candidates are nearly all someone else's."""
    rng = np.random.default_rng(24)
    alice, bob = pg.owner("alice@example.com"), pg.owner("bob@example.com")
    vectors = clustered(rng, 2020, D, clusters=20)  # the two people's photos look alike
    pg.add(alice, vectors[:2000])
    mine = vectors[2000:]
    ids = pg.add(bob, mine)
    with Session(writer(pg.engine)) as session:
        # Only the HNSW index is left to serve the query (undone by the rollback).
        session.execute(sa.text("DROP INDEX ix_image_embedding_owner_id"))
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        found = pg.index.search(session, bob, MODEL, mine[:5], 10, -1.0)
        assert [len(row) for row in found] == [10] * 5
        assert all(n.image_id in ids for row in found for n in row)
        session.execute(sa.text("SET LOCAL hnsw.iterative_scan = off"))
        plain = session.execute(
            search_statement(D),
            {"queries": [vector_literal(mine[0])], "owner": bob, "model": MODEL, "k": 10},
        ).all()
        assert len(plain) < 10  # what the iterative scan is for
        session.rollback()


def test_factory_picks_by_what_the_database_has(pgvector_url: str, tmp_path: Path) -> None:
    upgrade(pgvector_url, "0003")  # the extension (0002), not yet the column (0004)
    engine = make_engine(pgvector_url)
    try:
        assert isinstance(make_vector_index(engine), InProcessVectorIndex)
        upgrade(pgvector_url)
        index = make_vector_index(engine)
        assert isinstance(index, PgvectorIndex) and index.iterative_scan
    finally:
        engine.dispose()
    sqlite = make_engine(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    index = make_vector_index(sqlite, exact_limit=123)
    assert isinstance(index, InProcessVectorIndex) and index.exact_limit == 123
    assert index.name == "in-process (exact NumPy up to 123 vectors, then usearch HNSW)"
    sqlite.dispose()
    assert _at_least("0.8.6", (0, 8)) and _at_least("0.10.0", (0, 8))
    assert not _at_least("0.7.4", (0, 8))


def test_without_pgvector_the_migration_does_nothing(
    pg15_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Debian's PostgreSQL 15 here has no pgvector: a warning, no column, the in-process
    index, and the schema still matches the models."""
    engine = sa.create_engine(pg15_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if conn.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar():
            pytest.skip("the local PostgreSQL has pgvector; this test needs one without")
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger=MIGRATION_LOGGER):
        upgrade(pg15_url)
    (record,) = [r for r in caplog.records if r.name == MIGRATION_LOGGER]
    assert "pgvector is not installed" in record.getMessage()
    columns, indexes = schema(pg15_url)
    assert "embedding" not in columns and indexes == {}
    command.check(alembic_config(pg15_url))
    db = open_db(pg15_url)
    try:
        assert isinstance(db.index, InProcessVectorIndex)
    finally:
        db.engine.dispose()
    command.downgrade(alembic_config(pg15_url), "0003")  # IF EXISTS: nothing to drop
    upgrade(pg15_url)


def test_check_passes_on_sqlite(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    command.check(alembic_config(sqlite_url))
    assert "embedding" not in {
        c["name"] for c in sa.inspect(sa.create_engine(sqlite_url)).get_columns("image_embedding")
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [("postgresql+psycopg://u@h/db", True), ("sqlite:///unused.sqlite3", False)],
)
def test_offline_sql(url: str, expected: bool, capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(url), "0003:0004", sql=True)
    sql = capsys.readouterr().out
    assert ("ALTER TABLE image_embedding ADD COLUMN embedding vector" in sql) is expected
    assert ("UPDATE image_embedding AS e SET embedding" in sql) is expected
    index = (
        "CREATE INDEX ix_image_embedding_hnsw_768 ON image_embedding USING hnsw "
        "((embedding::vector(768)) vector_cosine_ops) WHERE dimension = 768"
    )
    assert (index in sql) is expected


def test_rows_added_in_the_searching_transaction(pg: Db) -> None:
    """``store`` runs in the writer's transaction: its search sees the new vectors at once."""
    alice = pg.owner("alice@example.com")
    vectors = unit(np.random.default_rng(25), 3, D)
    with Session(writer(pg.engine)) as session:
        ids = add_rows(session, pg.index, alice, vectors, MODEL)
        found = pg.index.search(session, alice, MODEL, vectors, 1, 0.99)
        assert [row[0].image_id for row in found] == ids
        session.rollback()
    assert pg.search(alice, vectors) == [[], [], []]
