"""The in-process vector index: each person's vectors in memory, searched exactly or by HNSW.

Embedded mode (one process owns the SQLite file), and PostgreSQL servers without pgvector.
Per (owner, model, dimension) a cache holds the vectors and their ids, brought up to date at
the start of every search from the caller's session, so a search sees what that transaction
sees (the writer's own uncommitted rows included):

- Up to date? ``COUNT(*), MAX(id)`` of the owner's rows: answered from the owner_id index
  alone, without reading the rows (ids only grow: SQLite's AUTOINCREMENT).
- New rows: those past the largest id seen. When the owner's count grew by exactly the number
  of rows past that id, nothing older went away and only those are read.
- Otherwise (rows deleted, or on PostgreSQL a transaction that took an older id committing
  later) the cache's ids are compared with the table's and only the difference is applied.
- A transaction that stored rows (``store``) and searched, then rolled back, leaves vectors
  that never existed in the cache, and SQLite may hand their ids out again: its rollback
  evicts them (``store`` registers that).

Up to ``exact_limit`` vectors the search is exact (a NumPy matrix product). Past it, the
vectors move into a usearch HNSW index (cosine metric) and the matrix is dropped; the index
then takes new rows and deletions incrementally. Both honour k and min_similarity.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session

from backend.models import ImageEmbedding
from backend.services.similarity.vector_index import Neighbour, as_queries

log = logging.getLogger(__name__)

# One query alone is answered faster by HNSW from ~5-10k vectors (bench/RESULTS.md), but the
# service searches batches and would rebuild the index at each start: its setting
# (DUPFINDER_VECTOR_EXACT_LIMIT) defaults much higher. This is the bare class's default.
DEFAULT_EXACT_LIMIT = 10_000
# usearch storage: half precision halves the memory of float32 and searches faster; the
# similarities it reports stay within ~3e-5 of the exact ones (bfloat16: ~3e-4). Measured in
# bench/RESULTS.md, vector-search.
HNSW_DTYPE = "f16"
HNSW_CONNECTIVITY = 16  # M
HNSW_EXPANSION_ADD = 128  # efConstruction
# ef: raised to 2k for larger k. 64 (usearch's default) found 86% of the top 10 at 1M vectors
# in the benchmark, 128 finds 96% for twice the time (~2 ms); at 100k both find 99.9%.
HNSW_EXPANSION_SEARCH = 128
_BLOCK_FLOATS = 1 << 24  # similarities computed per block of queries: 64 MiB
_FETCH_CHUNK = 500  # ids per IN (...) when fetching missing rows
_LOAD_CHUNK = 10_000  # rows read per step (a first load of 1M vectors is 2 GB)
_INFO = "dupfinder.vector_index"  # session.info[_INFO][id(index)]: row ids stored, uncommitted

_table = sa.table(
    "image_embedding",
    sa.column("id", sa.Integer),
    sa.column("image_id", sa.Integer),
    sa.column("owner_id", sa.Integer),
    sa.column("model_name", sa.String),
    sa.column("dimension", sa.Integer),
    sa.column("vector", sa.LargeBinary),
)

Key = tuple[int, str, int]  # owner_id, model_name, dimension


def exact_search(
    matrix: NDArray[np.float32],
    image_ids: NDArray[np.int64],
    queries: NDArray[np.float32],
    k: int,
    min_similarity: float,
) -> list[list[Neighbour]]:
    """Brute force: every query against every row of ``matrix`` (n × d, unit rows)."""
    n = matrix.shape[0]
    k = min(k, n)
    if k <= 0:
        return [[] for _ in range(len(queries))]
    out: list[list[Neighbour]] = []
    step = max(1, _BLOCK_FLOATS // n)
    for start in range(0, len(queries), step):
        sims = queries[start : start + step] @ matrix.T  # (block × n)
        if k < n:
            top = np.argpartition(sims, n - k, axis=1)[:, n - k :]
        else:
            top = np.broadcast_to(np.arange(n), sims.shape)
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_sims = np.take_along_axis(top_sims, order, axis=1)
        for positions, values in zip(top, top_sims, strict=True):
            keep = values >= min_similarity
            out.append(
                [
                    Neighbour(int(i), float(s))
                    for i, s in zip(image_ids[positions[keep]], values[keep], strict=True)
                ]
            )
    return out


def new_hnsw(ndim: int, dtype: str = HNSW_DTYPE) -> Any:
    """An empty usearch HNSW index for unit vectors (cosine), keys = image ids."""
    from usearch.index import Index  # only needed past the exact limit

    return Index(
        ndim=ndim,
        metric="cos",
        dtype=dtype,
        connectivity=HNSW_CONNECTIVITY,
        expansion_add=HNSW_EXPANSION_ADD,
        expansion_search=HNSW_EXPANSION_SEARCH,
    )


def hnsw_add(index: Any, image_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
    """Insert one thread at a time: usearch 2.26's concurrent inserts leave some vectors
    unreachable (17 of 20,000 random ones on 2 threads: never found again, not even by their
    own vector); single-threaded, none, for ~25% more build time here."""
    index.add(image_ids.astype(np.uint64), vectors, threads=1)


def hnsw_search(
    index: Any,
    queries: NDArray[np.float32],
    k: int,
    min_similarity: float,
    ef: int | None = None,
) -> list[list[Neighbour]]:
    """Approximate: up to k per query from the HNSW graph, then the threshold."""
    if k <= 0 or len(index) == 0:
        return [[] for _ in range(len(queries))]
    index.expansion_search = ef or max(HNSW_EXPANSION_SEARCH, 2 * k)
    found = index.search(queries, k)
    keys = np.atleast_2d(found.keys)
    distances = np.atleast_2d(found.distances)
    counts = np.atleast_1d(getattr(found, "counts", [len(found.keys)]))
    out: list[list[Neighbour]] = []
    for row_keys, row_distances, count in zip(keys, distances, counts, strict=True):
        sims = 1.0 - row_distances[:count].astype(np.float64)
        order = np.argsort(-sims, kind="stable")  # usearch sorts already; cheap to be sure
        out.append(
            [
                Neighbour(int(row_keys[i]), float(sims[i]))
                for i in order
                if sims[i] >= min_similarity
            ]
        )
    return out


@dataclass
class _Cache:
    """One owner's vectors of one model: ids in row order, and either a matrix or an index."""

    dimension: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    row_ids: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    image_ids: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    matrix: NDArray[np.float32] | None = None  # (capacity × d); rows [0, n) used
    hnsw: Any = None  # usearch Index once past the exact limit; the matrix is then gone
    stamp: tuple[int, int] | None = None  # the owner's (COUNT, MAX id) when last in step

    @property
    def size(self) -> int:
        return int(self.row_ids.shape[0])


class InProcessVectorIndex:
    """Thread-safe; one instance per process (the caches are its state)."""

    def __init__(self, exact_limit: int = DEFAULT_EXACT_LIMIT, hnsw_dtype: str = HNSW_DTYPE):
        self.exact_limit = exact_limit
        self.hnsw_dtype = hnsw_dtype
        self.name = f"in-process (exact NumPy up to {exact_limit} vectors, then usearch HNSW)"
        self._lock = threading.Lock()
        self._caches: dict[Key, _Cache] = {}

    # ------------------------------------------------------------------ the interface

    def store(self, session: Session, rows: Sequence[ImageEmbedding]) -> None:
        """Nothing to write; remembers the rows so that a rollback evicts them (see above)."""
        if not rows:
            return
        watched: dict[int, dict[Key, set[int]]] = session.info.setdefault(_INFO, {})
        if id(self) not in watched:
            self._watch(session)
        pending = watched.setdefault(id(self), {})
        for row in rows:
            if row.id is not None:
                key = (row.owner_id, row.model_name, row.dimension)
                pending.setdefault(key, set()).add(row.id)

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
        if k <= 0 or len(matrix) == 0:
            return [[] for _ in range(len(matrix))]
        cache = self._cache((owner_id, model_name, matrix.shape[1]))
        with cache.lock:
            self._refresh(session, owner_id, model_name, cache)
            if cache.hnsw is not None:
                return hnsw_search(cache.hnsw, matrix, k, min_similarity)
            if cache.matrix is None:
                return [[] for _ in range(len(matrix))]
            return exact_search(
                cache.matrix[: cache.size], cache.image_ids, matrix, k, min_similarity
            )

    # ------------------------------------------------------------------ keeping in step

    def _cache(self, key: Key) -> _Cache:
        with self._lock:
            cache = self._caches.get(key)
            if cache is None:
                cache = self._caches[key] = _Cache(dimension=key[2])
            return cache

    def _refresh(self, session: Session, owner_id: int, model_name: str, cache: _Cache) -> None:
        owner = _table.c.owner_id == owner_id
        count, max_id = session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(_table.c.id), 0)).where(owner)
        ).one()
        stamp = (int(count), int(max_id))
        if stamp == cache.stamp:
            return
        mine = sa.and_(
            owner, _table.c.model_name == model_name, _table.c.dimension == cache.dimension
        )
        if cache.stamp is not None:
            old_count, old_max = cache.stamp
            later = sa.and_(_table.c.id > old_max, _table.c.id <= stamp[1])
            added = session.execute(sa.select(sa.func.count()).where(owner, later)).scalar_one()
            if old_count + added == stamp[0]:  # nothing older went away or came late
                self._load(session, sa.and_(mine, later), cache)
                cache.stamp = stamp
                return
        self._resync(session, mine, stamp[1], cache)
        cache.stamp = stamp

    def _resync(
        self, session: Session, mine: sa.ColumnElement[bool], max_id: int, cache: _Cache
    ) -> None:
        """Make the cache hold exactly the table's rows up to ``max_id``."""
        upto = _table.c.id <= max_id
        if cache.size == 0:
            self._load(session, sa.and_(mine, upto), cache)
            return
        ids = np.fromiter(
            session.execute(sa.select(_table.c.id).where(mine, upto)).scalars(), dtype=np.int64
        )
        gone = ~np.isin(cache.row_ids, ids)
        if gone.any():
            self._remove(cache, gone)
        missing = np.setdiff1d(ids, cache.row_ids)
        for start in range(0, len(missing), _FETCH_CHUNK):
            chunk = [int(i) for i in missing[start : start + _FETCH_CHUNK]]
            self._load(session, _table.c.id.in_(chunk), cache)

    def _load(self, session: Session, where: sa.ColumnElement[bool], cache: _Cache) -> None:
        """Append the rows matching ``where``, a chunk at a time (a first load may be large)."""
        result = session.execute(
            sa.select(_table.c.id, _table.c.image_id, _table.c.dimension, _table.c.vector)
            .where(where)
            .order_by(_table.c.id)
            .execution_options(yield_per=_LOAD_CHUNK)
        )
        for rows in result.partitions():
            bad = [r[0] for r in rows if len(r[3]) != 4 * r[2]]
            if bad:
                raise ValueError(f"image_embedding rows {bad[:5]}: vector length ≠ 4 × dimension")
            vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4")
            self._append(
                cache,
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=np.int64),
                vectors.astype(np.float32).reshape(len(rows), cache.dimension),
            )

    def _append(
        self,
        cache: _Cache,
        row_ids: NDArray[np.int64],
        image_ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
    ) -> None:
        if len(row_ids) == 0:
            return
        # One row per image and model: an image already here has a stale row (replaced).
        stale = np.isin(cache.image_ids, image_ids)
        if stale.any():
            self._remove(cache, stale)
        n, m = cache.size, len(row_ids)
        if cache.hnsw is not None:
            hnsw_add(cache.hnsw, image_ids, vectors)
        else:
            if cache.matrix is None or cache.matrix.shape[0] < n + m:
                grown = np.empty((max(n + m, n + n // 2, 64), cache.dimension), np.float32)
                if cache.matrix is not None:
                    grown[:n] = cache.matrix[:n]
                cache.matrix = grown  # the old one is freed here: one copy at rest
            cache.matrix[n : n + m] = vectors
        cache.row_ids = np.concatenate([cache.row_ids, row_ids])
        cache.image_ids = np.concatenate([cache.image_ids, image_ids])
        if cache.hnsw is None and cache.size > self.exact_limit:
            self._to_hnsw(cache)

    def _to_hnsw(self, cache: _Cache) -> None:
        assert cache.matrix is not None
        index = new_hnsw(cache.dimension, self.hnsw_dtype)
        hnsw_add(index, cache.image_ids, cache.matrix[: cache.size])
        cache.hnsw, cache.matrix = index, None
        log.info("vector index: %d vectors, now searched by HNSW", cache.size)

    def _remove(self, cache: _Cache, mask: NDArray[np.bool_]) -> None:
        if cache.hnsw is not None:
            cache.hnsw.remove(cache.image_ids[mask].astype(np.uint64))
        elif cache.matrix is not None:
            # Close the gaps in place (a fancy-indexed copy would double the memory).
            removed = np.flatnonzero(mask)
            bounds = [*removed[1:].tolist(), cache.size]
            dst = int(removed[0])
            for src, end in zip(removed.tolist(), bounds, strict=True):
                length = end - src - 1
                cache.matrix[dst : dst + length] = cache.matrix[src + 1 : end]
                dst += length
        cache.row_ids = cache.row_ids[~mask]
        cache.image_ids = cache.image_ids[~mask]

    # ------------------------------------------------------------------ rollbacks

    def _watch(self, session: Session) -> None:
        """Evict the rows this session stored if its transaction does not commit."""

        def pending() -> dict[Key, set[int]]:
            watched: dict[int, dict[Key, set[int]]] = session.info.get(_INFO, {})
            return watched.get(id(self), {})

        def committed(_session: Session) -> None:
            pending().clear()

        def rolled_back(_session: Session, _transaction: Any) -> None:
            self._evict(pending())  # a savepoint's too: which rows it held is not known

        def ended(_session: Session, transaction: Any) -> None:
            if transaction.parent is None:  # closed without commit: same as a rollback
                self._evict(pending())
                pending().clear()

        sa.event.listen(session, "after_commit", committed)
        sa.event.listen(session, "after_soft_rollback", rolled_back)
        sa.event.listen(session, "after_transaction_end", ended)

    def _evict(self, pending: dict[Key, set[int]]) -> None:
        for key, row_ids in pending.items():
            with self._lock:
                cache = self._caches.get(key)
            if cache is None:
                continue
            with cache.lock:
                gone = np.isin(cache.row_ids, np.fromiter(row_ids, dtype=np.int64))
                if gone.any():
                    self._remove(cache, gone)
                cache.stamp = None  # their ids may come back with other rows: compare all
