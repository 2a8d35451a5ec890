"""Multi-index hashing finds exactly what a brute-force scan finds."""

from __future__ import annotations

import random

import pytest

from backend.core.hamming_index import CODE_BITS, HammingIndex


def brute_force(codes: dict[int, int], queries: list[int], radius: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for key, code in codes.items():
        d = min((code ^ q).bit_count() for q in queries)
        if d <= radius:
            out[key] = d
    return out


def near(code: int, flips: int, rng: random.Random) -> int:
    for bit in rng.sample(range(CODE_BITS), flips):
        code ^= 1 << bit
    return code


@pytest.mark.parametrize("radius", [0, 3, 4, 8, 11, 16])
def test_search_equals_brute_force(radius: int) -> None:
    rng = random.Random(radius)
    centres = [rng.getrandbits(64) for _ in range(20)]
    codes: dict[int, int] = {}
    for key in range(600):  # clusters around a few centres, plus random codes
        centre = centres[key % len(centres)]
        codes[key] = near(centre, rng.randint(0, 20), rng) if key % 3 else rng.getrandbits(64)
    index = HammingIndex(radius)
    for key, code in codes.items():
        index.add(key, code)
    assert len(index) == len(codes)
    for _ in range(40):
        queries = [near(rng.choice(centres), rng.randint(0, 10), rng) for _ in range(3)]
        assert index.search(queries) == brute_force(codes, queries, radius)


def test_exclude_leaves_out_the_query_itself() -> None:
    index = HammingIndex(4)
    index.add(1, 0xFF)
    index.add(2, 0xFE)
    assert index.search([0xFF]) == {1: 0, 2: 1}
    assert index.search([0xFF], exclude=1) == {2: 1}


def test_smallest_distance_over_all_queries() -> None:
    index = HammingIndex(8)
    index.add(7, 0)
    assert index.search([0b111, 0b1, 0b11]) == {7: 1}


@pytest.mark.parametrize(("chunks", "radius"), [(1, 2), (2, 6), (8, 9)])
def test_other_chunk_counts(chunks: int, radius: int) -> None:
    rng = random.Random(chunks)
    codes = {k: rng.getrandbits(64) for k in range(100)}
    index = HammingIndex(radius, chunks=chunks)
    for k, c in codes.items():
        index.add(k, c)
    query = [near(codes[5], radius, rng), near(codes[6], radius + 1, rng)]
    assert index.search(query) == brute_force(codes, query, radius)


def test_bad_chunks_and_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="divide"):
        HammingIndex(8, chunks=5)
    index = HammingIndex(8)
    index.add(1, 123)
    with pytest.raises(KeyError, match="already"):
        index.add(1, 456)
