"""Each person's grouped images by perceptual hash, kept in memory between grouping runs.

A grouping run searches the person's library for the new images' neighbours within the near
distance (all eight flips and turns). Building that index costs a read of the whole library,
so it is built once per worker process and then brought up to date from the images grouped
since it last looked (``Image.grouped_seq``, increasing per owner): a run costs what changed,
not the size of the library. Entries of images deleted since stay until the process ends;
callers check every hit against the database, which is the truth.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.core.hamming_index import HammingIndex
from backend.core.perceptual import to_unsigned
from backend.models import Image, ImageState

# Hashes kept in memory per process, over every person (about 150 bytes each); the people
# whose libraries were used least recently are dropped past it and read again when needed.
MAX_CODES = 4_000_000


class HashLibrary:
    def __init__(self, owner_id: int, radius: int) -> None:
        self.owner_id = owner_id
        self.index = HammingIndex(radius=radius)
        self.seen_seq = 0  # grouping runs up to this one are in the index
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.index)

    def refresh(self, session: Session) -> int:
        """Add the images grouped since the last look (all of them, the first time); returns
        how many rows that read."""
        with self.lock:
            rows = session.execute(
                sa.select(col(Image.id), col(Image.phash), col(Image.grouped_seq)).where(
                    col(Image.owner_id) == self.owner_id,
                    col(Image.grouped_seq) > self.seen_seq,
                    col(Image.state) == ImageState.READY,
                    col(Image.phash).is_not(None),
                )
            ).all()
            for image_id, phash, seq in rows:
                self._add(image_id, to_unsigned(phash))
                self.seen_seq = max(self.seen_seq, seq)
            return len(rows)

    def add(self, image_id: int, phash: int) -> None:
        """An image of the run in progress (unsigned hash), for the ones after it to find."""
        with self.lock:
            self._add(image_id, phash)

    def _add(self, image_id: int, phash: int) -> None:
        if self.index.code(image_id) is None:  # a re-analysed image comes back with its hash
            self.index.add(image_id, phash)

    def search(self, variants: list[int], exclude: int) -> dict[int, int]:
        """Images within the near distance of any variant, with their distance."""
        with self.lock:
            return self.index.search(variants, exclude=exclude)

    def code(self, image_id: int) -> int | None:
        with self.lock:
            return self.index.code(image_id)


class HashLibraries:
    """The libraries of the people this process groups for, least recently used dropped."""

    def __init__(self, radius: int, max_codes: int = MAX_CODES) -> None:
        self.radius, self.max_codes = radius, max_codes
        self._libraries: OrderedDict[int, HashLibrary] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, owner_id: int) -> HashLibrary:
        with self._lock:
            library = self._libraries.get(owner_id)
            if library is None:
                library = self._libraries[owner_id] = HashLibrary(owner_id, self.radius)
            self._libraries.move_to_end(owner_id)
            total = sum(len(lib) for lib in self._libraries.values())
            while total > self.max_codes and len(self._libraries) > 1:
                _, dropped = self._libraries.popitem(last=False)
                total -= len(dropped)
            return library
