"""Multi-index hashing: find 64-bit codes within a Hamming radius without scanning them all.

A code is cut into ``chunks`` 16-bit pieces. Two codes within distance r agree within
floor(r / chunks) bits on at least one piece (pigeonhole), so a query looks up only the pieces
near its own in per-chunk hash tables, then checks the few candidates exactly
(Norouzi, Punjani & Fleet, "Fast search in Hamming space with multi-index hashing", 2012).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from itertools import combinations

CODE_BITS = 64


@cache
def _masks(bits: int, max_flips: int) -> tuple[int, ...]:
    out = [0]
    for flips in range(1, max_flips + 1):
        for positions in combinations(range(bits), flips):
            mask = 0
            for p in positions:
                mask |= 1 << p
            out.append(mask)
    return tuple(out)


class HammingIndex:
    def __init__(self, radius: int, chunks: int = 4) -> None:
        if CODE_BITS % chunks:
            raise ValueError("chunks must divide 64")
        self.radius = radius
        self.chunks = chunks
        self._width = CODE_BITS // chunks
        self._tables: list[defaultdict[int, list[int]]] = [defaultdict(list) for _ in range(chunks)]
        self._codes: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._codes)

    def code(self, key: int) -> int | None:
        return self._codes.get(key)

    def _pieces(self, code: int) -> list[int]:
        low = (1 << self._width) - 1
        return [(code >> (i * self._width)) & low for i in range(self.chunks)]

    def add(self, key: int, code: int) -> None:
        if key in self._codes:
            raise KeyError(f"key {key} is already indexed")
        self._codes[key] = code
        for table, piece in zip(self._tables, self._pieces(code), strict=True):
            table[piece].append(key)

    def search(self, codes: Iterable[int], exclude: int | None = None) -> dict[int, int]:
        """Keys within ``radius`` of any of ``codes`` (e.g. a picture's dihedral variants),
        each with its smallest distance."""
        masks = _masks(self._width, self.radius // self.chunks)
        found: dict[int, int] = {}
        for code in codes:
            seen: set[int] = set()
            for table, piece in zip(self._tables, self._pieces(code), strict=True):
                for mask in masks:
                    bucket = table.get(piece ^ mask)
                    if bucket:
                        seen.update(bucket)
            for key in seen:
                if key == exclude:
                    continue
                d = (self._codes[key] ^ code).bit_count()
                if d <= self.radius and d < found.get(key, CODE_BITS + 1):
                    found[key] = d
        return found
