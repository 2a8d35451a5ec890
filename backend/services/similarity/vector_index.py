"""The owner-scoped nearest-neighbour search over stored embeddings, whichever engine runs it.

Two implementations: pgvector's HNSW index in PostgreSQL (distributed mode) and an in-process
index (embedded mode, or a PostgreSQL without pgvector). ``factory.make_vector_index`` picks
one; nothing else looks at the mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sqlmodel import Session

from backend.models import ImageEmbedding


@dataclass(frozen=True)
class Neighbour:
    image_id: int
    similarity: float  # cosine similarity, 1.0 = same direction


class VectorIndex(Protocol):
    @property
    def name(self) -> str:
        """What serves the search, e.g. "pgvector-hnsw" or "in-process (exact NumPy ...)"."""
        ...

    def store(self, session: Session, rows: Sequence[ImageEmbedding]) -> None:
        """Called by the writer right after it added and flushed ImageEmbedding rows in
        ``session`` (same transaction, before commit). pgvector: writes the vector column of
        those rows. In-process: nothing (the next search reads them)."""
        ...

    def search(
        self,
        session: Session,
        owner_id: int,
        model_name: str,
        queries: NDArray[np.float32],
        k: int,
        min_similarity: float,
    ) -> list[list[Neighbour]]:
        """For each query row (already L2-normalised), up to k of the owner's stored vectors of
        that model with cosine similarity >= min_similarity, best first. Results may include
        the query image itself (callers drop it). Never returns another owner's images."""
        ...


def as_queries(queries: NDArray[np.float32]) -> NDArray[np.float32]:
    """The queries as a C-contiguous (q × d) float32 matrix (one vector may come as 1-D)."""
    matrix = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
    if matrix.ndim != 2:
        raise ValueError(f"queries must be a (q × d) matrix, not shape {matrix.shape}")
    return matrix


def vector_of(row: ImageEmbedding) -> NDArray[np.float32]:
    """The stored vector of an embedding row (float32, little-endian bytes)."""
    vector = np.frombuffer(row.vector, dtype="<f4")
    if vector.shape[0] != row.dimension:
        raise ValueError(
            f"embedding {row.id}: {vector.shape[0]} values stored, dimension says {row.dimension}"
        )
    return vector.astype(np.float32)
