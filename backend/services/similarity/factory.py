"""The one place that picks the vector index: pgvector where the database has the column."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.services.similarity.in_process import DEFAULT_EXACT_LIMIT, InProcessVectorIndex
from backend.services.similarity.pgvector import COLUMN, MIN_EF_SEARCH, PgvectorIndex
from backend.services.similarity.vector_index import VectorIndex

log = logging.getLogger(__name__)


def make_vector_index(
    engine: Engine, exact_limit: int = DEFAULT_EXACT_LIMIT, ef_search: int = MIN_EF_SEARCH
) -> VectorIndex:
    """PostgreSQL whose image_embedding has the pgvector column (revision 0004 ran with the
    extension installed): the pgvector index. Anything else (SQLite, a PostgreSQL without
    pgvector): the in-process index. Decided once, from the migrated database."""
    index: VectorIndex
    version = _pgvector_column(engine) if engine.dialect.name == "postgresql" else None
    if version is not None:
        index = PgvectorIndex(iterative_scan=_at_least(version, (0, 8)), min_ef_search=ef_search)
    else:
        index = InProcessVectorIndex(exact_limit)
    log.info("vector index: %s", index.name)
    return index


def _pgvector_column(engine: Engine) -> str | None:
    """The pgvector version when image_embedding has its vector column, else None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT x.extversion FROM pg_extension AS x"
                " JOIN pg_type AS t ON t.typname = 'vector' AND t.typnamespace = x.extnamespace"
                " JOIN pg_attribute AS a ON a.atttypid = t.oid"
                " WHERE x.extname = 'vector' AND a.attname = :column AND NOT a.attisdropped"
                " AND a.attrelid = to_regclass('image_embedding')"
            ),
            {"column": COLUMN},
        ).first()
    return None if row is None else str(row[0])


def _at_least(version: str, wanted: tuple[int, ...]) -> bool:
    parts = tuple(int(p) for p in version.split(".")[: len(wanted)] if p.isdigit())
    return parts >= wanted
