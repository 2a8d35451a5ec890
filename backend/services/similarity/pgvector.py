"""The pgvector index: HNSW in PostgreSQL over ``image_embedding.embedding`` (revision 0004).

The column has no fixed dimension, so several models share the table; each supported
dimension has its own partial expression index (``embedding::vector(d)`` where
``dimension = d``), and a search names the same expression, with the dimension written into
the SQL (a bound parameter would hide the partial index from the planner).

An HNSW scan filtered by owner would stop after ``hnsw.ef_search`` candidates, mostly other
people's, and return too few rows: iterative scans (pgvector 0.8+) keep going until the
LIMIT is met (or ``hnsw.max_scan_tuples``). ``relaxed_order`` is the fast kind; results are
re-sorted here. For a person with few vectors the planner prefers the owner_id index and an
exact sort, which is right.

The ``SET LOCAL`` settings last until the caller's transaction ends (only HNSW scans read
them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session

from backend.config.settings import PGVECTOR_EF_SEARCH
from backend.models import ImageEmbedding
from backend.services.similarity.vector_index import Neighbour, as_queries, vector_of

COLUMN = "embedding"  # image_embedding's pgvector column; not in the SQLModel model
INDEX_PREFIX = "ix_image_embedding_hnsw_"  # + dimension
# Dimensions with an HNSW index: SSCD and CLIP ViT-B/32 (512), CLIP ViT-L/14 (768), ViT-H/14
# (1024). Revision 0004 creates them; another dimension works, searched without an index.
INDEXED_DIMENSIONS = (512, 768, 1024)
# hnsw.ef_search when none is given: DUPFINDER_PGVECTOR_EF_SEARCH's default, 400 (recall@10
# 0.93 at 1M vectors, where 40 found 0.60 and 100 0.82; the figures are beside it). A search
# uses at least 2 k, and at most pgvector's limit.
MIN_EF_SEARCH = PGVECTOR_EF_SEARCH
MAX_EF_SEARCH = 1000  # pgvector refuses more
QUERIES_PER_STATEMENT = 256


def index_name(dimension: int) -> str:
    return f"{INDEX_PREFIX}{dimension}"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic autogenerate filter: the pgvector column and its indexes are managed by
    revision 0004 alone (the model does not declare them), so ``alembic check`` ignores them."""
    if (
        type_ == "column"
        and name == COLUMN
        and getattr(obj.table, "name", None) == ("image_embedding")
    ):
        return False
    return not (type_ == "index" and name is not None and name.startswith(INDEX_PREFIX))


def search_statement(dimension: int) -> sa.TextClause:
    """k nearest of one owner's vectors of one model, for each of a block of queries: each
    query is its own index scan (LATERAL), ``:queries`` a list of vector literals."""
    d = int(dimension)
    return sa.text(f"""
        SELECT q.ord, n.image_id, n.distance
        FROM unnest(CAST(:queries AS vector({d})[])) WITH ORDINALITY AS q(v, ord)
        CROSS JOIN LATERAL (
            SELECT e.image_id, e.{COLUMN}::vector({d}) <=> q.v AS distance
            FROM image_embedding AS e
            WHERE e.owner_id = :owner AND e.model_name = :model AND e.dimension = {d}
                AND e.{COLUMN} IS NOT NULL
            ORDER BY e.{COLUMN}::vector({d}) <=> q.v
            LIMIT :k
        ) AS n
        """)


def vector_literal(vector: NDArray[np.float32]) -> str:
    """pgvector's text form; repr of each float32 (as a double) reads back bit for bit."""
    return "[" + ",".join(map(repr, vector.astype(np.float32).tolist())) + "]"


class PgvectorIndex:
    name = "pgvector-hnsw"

    def __init__(self, iterative_scan: bool = True, min_ef_search: int = MIN_EF_SEARCH):
        self.iterative_scan = iterative_scan  # pgvector >= 0.8
        self.min_ef_search = min_ef_search

    def ef_search(self, k: int) -> int:
        """hnsw.ef_search for k neighbours: at least 2 k (a narrower search misses many),
        within pgvector's range (for k over 500 an iterative scan still fills the LIMIT)."""
        return min(max(self.min_ef_search, 2 * k), MAX_EF_SEARCH)

    def store(self, session: Session, rows: Sequence[ImageEmbedding]) -> None:
        params = [
            {"id": row.id, "v": vector_literal(vector_of(row))}
            for row in rows
            if row.id is not None
        ]
        if params:
            session.execute(
                sa.text(f"UPDATE image_embedding SET {COLUMN} = CAST(:v AS vector) WHERE id = :id"),
                params,
            )

    def search(
        self,
        session: Session,
        owner_id: int,
        model_name: str,
        queries: NDArray[np.float32],
        k: int,
        min_similarity: float,
    ) -> list[list[Neighbour]]:
        matrix = as_queries(queries)
        out: list[list[Neighbour]] = [[] for _ in range(len(matrix))]
        if k <= 0 or len(matrix) == 0:
            return out
        d = int(matrix.shape[1])
        settings = "SELECT set_config('hnsw.ef_search', :ef, true)"
        if self.iterative_scan:
            settings += ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
        session.execute(sa.text(settings), {"ef": str(self.ef_search(k))})
        statement = search_statement(d)
        for start in range(0, len(matrix), QUERIES_PER_STATEMENT):
            block = matrix[start : start + QUERIES_PER_STATEMENT]
            rows = session.execute(
                statement,
                {
                    "queries": [vector_literal(v) for v in block],
                    "owner": owner_id,
                    "model": model_name,
                    "k": k,
                },
            ).all()
            for ord_, image_id, distance in rows:
                similarity = 1.0 - float(distance)
                if similarity >= min_similarity:
                    out[start + int(ord_) - 1].append(Neighbour(int(image_id), similarity))
        for found in out:
            found.sort(key=lambda n: -n.similarity)  # relaxed order: nearly sorted only
        return out
