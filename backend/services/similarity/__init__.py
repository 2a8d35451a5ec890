"""Owner-scoped nearest-neighbour search over stored embeddings (see vector_index)."""

from backend.services.similarity.factory import make_vector_index
from backend.services.similarity.vector_index import Neighbour, VectorIndex

__all__ = ["Neighbour", "VectorIndex", "make_vector_index"]
