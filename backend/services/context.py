"""What a use case or task needs from the outside world, built once by the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from backend.config import Settings
from backend.ml.registry import ModelSet
from backend.services.similarity.vector_index import VectorIndex
from backend.services.storage.blobstore import BlobStore


class JobQueue(Protocol):
    """Sends a task by name with plain arguments (ids only), after the caller has committed."""

    def enqueue(self, name: str, **kwargs: Any) -> None: ...

    def reachable(self) -> bool:
        """Whether jobs can be sent right now (for /health)."""
        ...


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    store: BlobStore
    jobs: JobQueue
    models: ModelSet
    vectors: VectorIndex
