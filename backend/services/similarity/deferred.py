"""A vector index chosen at its first use, not when the process starts.

Which index serves depends on the database (pgvector or not), and a service must start, and
say on /health that the database is away, even when the database is down at that moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from sqlmodel import Session

from backend.models import ImageEmbedding
from backend.services.similarity.vector_index import Neighbour, VectorIndex


class DeferredVectorIndex:
    def __init__(self, choose: Callable[[], VectorIndex]) -> None:
        self._choose = choose
        self._index: VectorIndex | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        try:
            return self._get().name
        except Exception:  # the database is away: /health says so elsewhere
            return "not chosen yet (the database could not be reached)"

    def _get(self) -> VectorIndex:
        with self._lock:
            if self._index is None:
                self._index = self._choose()
            return self._index

    def store(self, session: Session, rows: Sequence[ImageEmbedding]) -> None:
        self._get().store(session, rows)

    def search(
        self,
        session: Session,
        owner_id: int,
        model_name: str,
        queries: NDArray[np.float32],
        k: int,
        min_similarity: float,
    ) -> list[list[Neighbour]]:
        return self._get().search(session, owner_id, model_name, queries, k, min_similarity)
