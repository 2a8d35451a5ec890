"""The in-process index past its exact limit (usearch HNSW), and under concurrent use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session

from backend.services.similarity import in_process as in_process_module
from backend.services.similarity.in_process import InProcessVectorIndex, exact_search
from tests.backend.services.similarity.conftest import MODEL, Db, clustered, open_db, unit

N, D, LIMIT = 2000, 64, 50


@pytest.fixture
def small_limit(tmp_path: Path) -> Iterator[Db]:
    db = open_db(f"sqlite:///{tmp_path / 'hnsw.sqlite3'}", exact_limit=LIMIT)
    try:
        yield db
    finally:
        db.engine.dispose()


def in_process(db: Db) -> InProcessVectorIndex:
    assert isinstance(db.index, InProcessVectorIndex)
    return db.index


def uses_hnsw(db: Db, owner: int, d: int = D) -> bool:
    cache = in_process(db)._caches[(owner, MODEL, d)]
    return cache.hnsw is not None and cache.matrix is None  # one copy of the vectors


def test_exact_and_hnsw_agree(small_limit: Db, tmp_path: Path) -> None:
    """Recall@10 of the HNSW path against the exact one on the same rows: at least 0.95."""
    rng = np.random.default_rng(11)
    vectors = clustered(rng, N, D, clusters=40)
    alice = small_limit.owner("alice@example.com")
    small_limit.add(alice, vectors[:30])
    small_limit.search(alice, vectors[:1])
    assert not uses_hnsw(small_limit, alice)  # under the limit: exact
    small_limit.add(alice, vectors[30:])
    queries = vectors[rng.choice(N, 200, replace=False)] + 0.05 * unit(rng, 200, D)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    approximate = small_limit.search(alice, queries, k=10)
    assert uses_hnsw(small_limit, alice)

    exact_db = Db(small_limit.engine, InProcessVectorIndex(exact_limit=N * 10))
    truth = exact_db.search(alice, queries, k=10)
    assert not uses_hnsw(exact_db, alice)
    hits = sum(
        len({i for i, _ in a} & {i for i, _ in t}) for a, t in zip(approximate, truth, strict=True)
    )
    recall = hits / (10 * len(queries))
    print(f"recall@10 = {recall:.3f}")
    assert recall >= 0.95
    for a, t in zip(approximate, truth, strict=True):
        # The same similarities where they agree (up to the half-precision storage), best first.
        same = dict(t)
        assert all(abs(s - same[i]) < 1e-3 for i, s in a if i in same)
        assert [s for _, s in a] == sorted((s for _, s in a), reverse=True)


def test_hnsw_honours_k_and_min_similarity(small_limit: Db) -> None:
    rng = np.random.default_rng(12)
    vectors = clustered(rng, 500, D, clusters=10)
    alice = small_limit.owner("alice@example.com")
    small_limit.add(alice, vectors)
    for k, floor in ((3, -1.0), (25, 0.5), (10, 0.99)):
        for row in small_limit.search(alice, vectors[:20], k=k, min_similarity=floor):
            assert 1 <= len(row) <= k  # the query's own vector is always there
            assert all(s >= floor for _, s in row)
    assert uses_hnsw(small_limit, alice)


def test_hnsw_takes_new_rows_and_deletions(small_limit: Db) -> None:
    rng = np.random.default_rng(13)
    alice, bob = small_limit.owner("alice@example.com"), small_limit.owner("bob@example.com")
    first = unit(rng, 200, D)
    ids = small_limit.add(alice, first)
    small_limit.add(bob, first)  # identical vectors of someone else: never found
    assert [row[0][0] for row in small_limit.search(alice, first, k=1)] == ids
    assert uses_hnsw(small_limit, alice)

    second = unit(rng, 20, D)
    new = small_limit.add(alice, second)
    assert [row[0][0] for row in small_limit.search(alice, second, k=1)] == new

    small_limit.delete_images(ids[:50])
    found = small_limit.search(alice, first, k=5)
    assert all(i not in ids[:50] for row in found for i, _ in row)
    assert [row[0][0] for row in found[50:]] == ids[50:]
    assert all(i in ids + new for row in found for i, _ in row)


def test_concurrent_searches_and_writes(small_limit: Db) -> None:
    """Threads searching while rows arrive: no errors, and afterwards every row is found."""
    rng = np.random.default_rng(14)
    alice = small_limit.owner("alice@example.com")
    batches = [unit(rng, 20, D) for _ in range(10)]
    errors: list[BaseException] = []
    done = threading.Event()

    def searcher() -> None:
        local = np.random.default_rng(threading.get_ident() % 1000)
        try:
            while not done.is_set():
                for row in small_limit.search(alice, unit(local, 3, D), k=5):
                    assert len(row) <= 5
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    ids = [i for batch in batches for i in small_limit.add(alice, batch)]
    done.set()
    for t in threads:
        t.join()
    assert errors == []
    everything = np.concatenate(batches)
    assert [row[0][0] for row in small_limit.search(alice, everything, k=1)] == ids


def test_indexes_keep_their_own_caches(small_limit: Db) -> None:
    rng = np.random.default_rng(15)
    alice = small_limit.owner("alice@example.com")
    other = InProcessVectorIndex(exact_limit=LIMIT)
    kept = small_limit.add(alice, unit(rng, 3, D))
    with Session(small_limit.engine) as session:
        assert len(other.search(session, alice, MODEL, unit(rng, 1, D), 10, -1.0)[0]) == 3
    assert other._caches.keys() == {(alice, MODEL, D)}
    assert {i for i, _ in small_limit.search(alice, unit(rng, 1, D))[0]} == set(kept)


def test_exact_search_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries go in blocks (bounded memory); k above n returns all n, best first."""
    monkeypatch.setattr(in_process_module, "_BLOCK_FLOATS", 300 * 7)
    rng = np.random.default_rng(16)
    matrix = unit(rng, 300, 8)
    ids = np.arange(1000, 1300, dtype=np.int64)
    queries = unit(rng, 50, 8)
    found = exact_search(matrix, ids, queries, 500, -1.0)
    assert all(len(row) == 300 for row in found)
    for query, row in zip(queries, found, strict=True):
        sims = matrix @ query
        assert [n.image_id for n in row] == list(ids[np.argsort(-sims, kind="stable")])
    assert exact_search(matrix[:0], ids[:0], queries, 5, -1.0) == [[]] * 50
