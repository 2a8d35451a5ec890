"""pgvector column and HNSW indexes for embeddings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000

PostgreSQL with the ``vector`` extension installed in the database only (see 0002):

- ``image_embedding.embedding vector``: no fixed dimension, so the models share the table;
  the ``vector`` bytes stay (the in-process index and the API read them).
- One partial HNSW expression index per supported dimension (cosine), e.g.
  ``ix_image_embedding_hnsw_512 ON image_embedding USING hnsw
  ((embedding::vector(512)) vector_cosine_ops) WHERE dimension = 512``.
- Existing rows are backfilled in SQL from their little-endian float32 bytes, before the
  indexes are built (a bulk build beats inserting into a graph row by row).

The application writes the column for new rows (``PgvectorIndex.store``); the model does not
declare it, and ``alembic check`` ignores it (env.py's ``include_object``).

Without the extension this revision logs a warning and does nothing: the service then uses
its in-process index. Installing pgvector later does not re-run it: ``alembic downgrade
0003`` then ``alembic upgrade head`` (after ``CREATE EXTENSION vector``). Offline (``--sql``)
the statements are written out unconditionally. SQLite: nothing to do.

Downgrade drops the indexes and the column where they exist.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("backend.migrations.0004_pgvector_embeddings")

# SSCD and CLIP ViT-B/32, CLIP ViT-L/14, CLIP ViT-H/14 (backend/services/similarity/pgvector.py
# holds the same list; migrations do not import the application).
DIMENSIONS = (512, 768, 1024)

# float32 from its 4 little-endian bytes (IEEE 754: sign, 8-bit exponent, 23-bit mantissa),
# computed exactly in double precision. The bytes are copied out once per row (the value is
# TOASTed: reading it byte by byte in place would fetch it again for every byte).
_BACKFILL = """
UPDATE image_embedding AS e SET embedding = (
    SELECT array_agg(
        (1 - 2 * (w >> 31))
        * CASE WHEN ((w >> 23) & 255) = 0 THEN (w & 8388607) * power(2::float8, -149)
               ELSE (8388608 + (w & 8388607)) * power(2::float8, ((w >> 23) & 255) - 150)
          END
        ORDER BY i
    )::real[]::vector
    FROM (SELECT e.vector || ''::bytea AS b OFFSET 0) AS copied,
        generate_series(0, e.dimension - 1) AS i,
        LATERAL (
            SELECT (get_byte(b, 4 * i)::int8)
                | (get_byte(b, 4 * i + 1)::int8 << 8)
                | (get_byte(b, 4 * i + 2)::int8 << 16)
                | (get_byte(b, 4 * i + 3)::int8 << 24) AS w
        ) AS word
)
WHERE e.embedding IS NULL
"""


def _statements() -> list[str]:
    return [
        "ALTER TABLE image_embedding ADD COLUMN embedding vector",
        _BACKFILL,
        *(
            f"CREATE INDEX ix_image_embedding_hnsw_{d} ON image_embedding USING hnsw "
            f"((embedding::vector({d})) vector_cosine_ops) WHERE dimension = {d}"
            for d in DIMENSIONS
        ),
    ]


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    if not context.is_offline_mode():
        bind = op.get_bind()
        if not bind.execute(
            sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        ).scalar():
            log.warning(
                "pgvector is not installed in this database: image_embedding gets no vector "
                "column and no HNSW index, and similarity search runs in the application "
                "process instead. To use pgvector: CREATE EXTENSION vector, then "
                "'alembic downgrade 0003' and 'alembic upgrade head'."
            )
            return
        # Building an HNSW graph is memory-hungry; a larger budget keeps it in memory (this
        # transaction only). Workers: what the server allows.
        op.execute("SET LOCAL maintenance_work_mem = '1GB'")
    for statement in _statements():
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for d in DIMENSIONS:
        op.execute(f"DROP INDEX IF EXISTS ix_image_embedding_hnsw_{d}")
    op.execute("ALTER TABLE image_embedding DROP COLUMN IF EXISTS embedding")
