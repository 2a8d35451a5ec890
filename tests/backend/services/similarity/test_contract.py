"""What every vector index promises, on each database: the in-process index on SQLite and on a
PostgreSQL without pgvector, and the pgvector index."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session

from backend.db.engine import writer
from tests.backend.services.similarity.conftest import DIM, MODEL, Db, exact, unit


def test_owner_isolation(db: Db) -> None:
    """Two people with the very same vectors never see each other's images."""
    rng = np.random.default_rng(1)
    vectors = unit(rng, 20)
    alice, bob = db.owner("alice@example.com"), db.owner("bob@example.com")
    alice_ids, bob_ids = db.add(alice, vectors), db.add(bob, vectors)

    for owner, ids in ((alice, alice_ids), (bob, bob_ids)):
        found = db.search(owner, vectors, k=40)
        assert all({i for i, _ in row} <= set(ids) for row in found)
        assert [row[0][0] for row in found] == ids  # each finds itself first
        assert all(len(row) == 20 for row in found)


def test_a_person_without_vectors_finds_nothing(db: Db) -> None:
    rng = np.random.default_rng(2)
    alice, bob = db.owner("alice@example.com"), db.owner("bob@example.com")
    db.add(alice, unit(rng, 5))
    assert db.search(bob, unit(rng, 3)) == [[], [], []]


def test_model_isolation(db: Db) -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 10)
    alice = db.owner("alice@example.com")
    sscd = db.add(alice, vectors, model=MODEL)
    clip = db.add(alice, vectors, model="clip-test")
    assert {i for row in db.search(alice, vectors, k=20) for i, _ in row} == set(sscd)
    found = db.search(alice, vectors, k=20, model="clip-test")
    assert {i for row in found for i, _ in row} == set(clip)
    assert db.search(alice, vectors, model="no-such-model") == [[]] * 10


def test_k_min_similarity_and_order_match_exact_search(db: Db) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 60)
    alice = db.owner("alice@example.com")
    ids = db.add(alice, vectors)
    queries = unit(rng, 8)

    for k, floor in ((5, -1.0), (60, 0.2), (100, 0.0), (1, 0.5)):
        found = db.search(alice, queries, k=k, min_similarity=floor)
        assert len(found) == len(queries)
        for query, row in zip(queries, found, strict=True):
            want = [(i, s) for i, s in exact(vectors, ids, query, k) if s >= floor]
            assert [i for i, _ in row] == [i for i, _ in want]
            assert np.allclose([s for _, s in row], [s for _, s in want], atol=1e-5)
            sims = [s for _, s in row]
            assert sims == sorted(sims, reverse=True) and all(s >= floor for s in sims)
            assert len(row) <= k


def test_a_single_query_may_be_one_dimensional(db: Db) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 5)
    alice = db.owner("alice@example.com")
    ids = db.add(alice, vectors)
    assert [i for i, _ in db.search(alice, vectors[2], k=1)[0]] == [ids[2]]
    assert db.search(alice, vectors[:0]) == []
    assert db.search(alice, vectors, k=0) == [[]] * 5


def test_new_rows_are_found_after_they_are_committed(db: Db) -> None:
    rng = np.random.default_rng(6)
    alice = db.owner("alice@example.com")
    first = unit(rng, 10)
    first_ids = db.add(alice, first)
    assert {i for i, _ in db.search(alice, first[:1], k=50)[0]} == set(first_ids)

    second = unit(rng, 7)
    second_ids = db.add(alice, second)
    db.add(db.owner("bob@example.com"), second)  # someone else's rows change nothing
    found = db.search(alice, second, k=50)
    assert {i for i, _ in found[0]} == set(first_ids + second_ids)
    assert [row[0][0] for row in found] == second_ids


def test_the_writers_own_uncommitted_rows_are_found(db: Db) -> None:
    """The grouping searches in the transaction that stored the batch's vectors."""
    rng = np.random.default_rng(7)
    alice = db.owner("alice@example.com")
    old = db.add(alice, unit(rng, 5))
    db.search(alice, unit(rng, 1))  # the in-process cache is filled before the new rows
    vectors = unit(rng, 4)
    with Session(writer(db.engine)) as session:
        new = db.add(alice, vectors, session=session)
        found = db.index.search(session, alice, MODEL, vectors, 20, -1.0)
        assert [row[0].image_id for row in found] == new
        assert {n.image_id for n in found[0]} == set(old + new)
        session.commit()
    assert {i for i, _ in db.search(alice, vectors[:1], k=20)[0]} == set(old + new)


def test_rolled_back_rows_are_forgotten(db: Db) -> None:
    """Searched inside a transaction that then rolled back, its rows must not linger, even when
    SQLite hands their ids to the next rows."""
    rng = np.random.default_rng(8)
    alice = db.owner("alice@example.com")
    kept = db.add(alice, unit(rng, 5))
    ghosts = unit(rng, 3)
    with Session(writer(db.engine)) as session:
        db.add(alice, ghosts, session=session)
        assert len(db.index.search(session, alice, MODEL, ghosts, 20, -1.0)[0]) == 8
        session.rollback()
    real = unit(rng, 3)
    real_ids = db.add(alice, real)
    found = db.search(alice, np.concatenate([ghosts, real]), k=20)
    assert all({i for i, _ in row} == set(kept + real_ids) for row in found)
    for query, row in zip(real, found[3:], strict=True):
        assert row[0][1] == pytest.approx(1.0, abs=1e-5)  # its own vector, not a ghost's
        assert row == sorted(row, key=lambda n: -n[1])
        assert np.isclose(row[0][1], float(query @ real[real_ids.index(row[0][0])]), atol=1e-5)


def test_deleted_rows_disappear(db: Db) -> None:
    rng = np.random.default_rng(9)
    alice = db.owner("alice@example.com")
    vectors = unit(rng, 12)
    ids = db.add(alice, vectors)
    assert len(db.search(alice, vectors[:1], k=50)[0]) == 12
    db.delete_images(ids[3:6])  # the embeddings go with the images (ON DELETE CASCADE)
    found = db.search(alice, vectors, k=50)
    assert {i for i, _ in found[0]} == set(ids) - set(ids[3:6])
    assert all(row[0][0] == ids[j] for j, row in enumerate(found) if j not in (3, 4, 5))

    # Deleted and added between two searches: the count alone would not tell.
    db.search(alice, vectors[:1])
    db.delete_images(ids[:1])
    more = db.add(alice, unit(rng, 1))
    assert {i for i, _ in db.search(alice, vectors[:1], k=50)[0]} == (
        set(ids) - {ids[0], *ids[3:6]} | set(more)
    )


def test_a_dimension_mismatch_finds_nothing_of_the_other_size(db: Db) -> None:
    rng = np.random.default_rng(10)
    alice = db.owner("alice@example.com")
    db.add(alice, unit(rng, 4, DIM))
    assert db.search(alice, unit(rng, 2, DIM * 2)) == [[], []]
