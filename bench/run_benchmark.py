#!/usr/bin/env python3
"""Core-slice benchmark: duplicate-group quality of ``dupfinder scan`` and extraction speed.

usage: python bench/run_benchmark.py [--shared DIR] [--cache DIR] [--seed N] [--rounds N]

In one run:

1. builds the benchmark (skipping steps whose outputs exist): ``photos.sh`` collects real photos
   from Debian packages into ``<cache>/originals``, ``make_benchmark.py`` builds edited-copy
   families and ``truth.json`` into ``<cache>/bench-seed<N>``;
2. runs ``dupfinder scan --json -q`` on the benchmark with a fresh data dir, times it, scores it
   with ``score.py --json``, and times a second scan on the same data dir (stored features reused);
3. times feature extraction in this process, single-threaded, on the full-size originals
   (min side >= 300 px): ``extract_features`` against ``imagehash.phash`` (full-size decode),
   in interleaved rounds;
4. scores the baseline: plain ``imagehash.phash``, all pairs at Hamming distance <= 10 joined by
   union-find (no flips), put in the near tier;
5. prints a table and updates ``bench/RESULTS.md`` (its own delimited section) and
   ``bench/results.json`` (its own key).

The shared tooling lives in ``<repo>/../shared/bench`` unless ``--shared`` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from results_file import (  # bench/, beside this
    cpu_name,
    git_commit,
    md_table,
    text_table,
    update_results_json,
    update_results_md,
)

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
SECTION = "core-slice"
RESULTS_KEY = "core_slice"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
MIN_SIDE = 300  # originals used for the extraction timing: shorter side at least this
FULL_SIZE_MP = 2.0  # "full-size photos": where the speed target applies
BASELINE_DISTANCE = 10
TIERS = ("exact", "near", "similar")
MACHINE_NOTE = "2 cores, shared/noisy"

Image.MAX_IMAGE_PIXELS = None

JsonDict = dict[str, Any]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. build


def build_benchmark(shared: Path, cache: Path, seed: int) -> tuple[Path, Path]:
    """Originals folder and benchmark folder, built only where missing."""
    originals = cache / "originals"
    done = cache / "originals.done"
    if done.exists() and any(originals.iterdir()):
        log(f"photos: reusing {originals}")
    else:
        log(f"photos: collecting into {originals} (apt-get download)")
        shutil.rmtree(originals, ignore_errors=True)
        subprocess.run(
            ["bash", str(shared / "photos.sh"), str(originals), str(cache / "debs")],
            check=True,
            stdout=sys.stderr,
        )
        done.write_text(dt.datetime.now().isoformat() + "\n")
    bench = cache / f"bench-seed{seed}"
    if (bench / "truth.json").exists() and (bench / "images").is_dir():
        log(f"benchmark: reusing {bench}")
    else:
        log(f"benchmark: building {bench}")
        subprocess.run(
            [
                sys.executable,
                str(shared / "make_benchmark.py"),
                str(originals),
                str(bench),
                "--seed",
                str(seed),
            ],
            check=True,
            stdout=sys.stderr,
        )
    return originals, bench


# --------------------------------------------------------------------------- 2. scan


def dupfinder_command() -> str:
    beside = Path(sys.executable).with_name("dupfinder")
    if beside.exists():
        return str(beside)
    found = shutil.which("dupfinder")
    if not found:
        raise SystemExit("dupfinder is not installed (pip install -e '.[dev]')")
    return found


# The core slice is the hash pipeline: the models are measured by bench/quality_benchmark.py.
HASHES_ONLY = {
    "DUPFINDER_COPY_MODEL": "none",
    "DUPFINDER_OBJECT_MODEL": "none",
    "DUPFINDER_CLIP_MODEL": "none",
}


def run_scan(images: Path, data_dir: Path) -> tuple[float, JsonDict]:
    cmd = [dupfinder_command(), "--data-dir", str(data_dir), "scan", "--json", "-q", str(images)]
    started = time.perf_counter()
    env = {**os.environ, **HASHES_ONLY}
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    report: JsonDict = json.loads(proc.stdout)
    return seconds, report


def score(shared: Path, truth: Path, predicted: JsonDict) -> JsonDict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(predicted, fh)
        pred_path = fh.name
    try:
        proc = subprocess.run(
            [sys.executable, str(shared / "score.py"), str(truth), pred_path, "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(pred_path)
    result: JsonDict = json.loads(proc.stdout)
    return result


def scan_benchmark(shared: Path, bench: Path) -> JsonDict:
    images = bench / "images"
    with tempfile.TemporaryDirectory(prefix="dupfinder-bench-") as tmp:
        data_dir = Path(tmp)
        log("scan 1 (fresh data dir)")
        first_s, report = run_scan(images, data_dir)
        log(f"scan 1: {first_s:.2f} s; scan 2 (same data dir)")
        second_s, report2 = run_scan(images, data_dir)
        log(f"scan 2: {second_s:.2f} s")
    same = _group_sets(report) == _group_sets(report2)
    return {
        "command": "dupfinder --data-dir TMP scan --json -q IMAGES",
        "images": len(os.listdir(images)),
        "first_scan_s": round(first_s, 3),
        "second_scan_s": round(second_s, 3),
        "second_scan_same_groups": same,
        "skipped": len(report.get("skipped", [])),
        "groups": {t: len(report.get(t) or []) for t in TIERS},
        "score": score(shared, bench / "truth.json", report),
    }


def _group_sets(report: JsonDict) -> dict[str, set[frozenset[str]]]:
    return {t: {frozenset(g) for g in report.get(t) or []} for t in TIERS}


# --------------------------------------------------------------------------- 3. extraction


@dataclass
class Photo:
    name: str
    data: bytes
    megapixels: float


def load_originals(originals: Path) -> list[Photo]:
    photos = []
    for path in sorted(originals.iterdir()):
        data = path.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Exception:
            continue
        if min(w, h) >= MIN_SIDE:
            photos.append(Photo(path.name, data, w * h / 1e6))
    return photos


SIZE_BANDS = ((0.0, 0.5, "< 0.5 MP"), (0.5, 2.0, "0.5-2 MP"), (2.0, float("inf"), ">= 2 MP"))


def _time_pass(
    fn: Callable[[Photo], object], photos: Sequence[Photo]
) -> tuple[float, float, list[float]]:
    """Wall and CPU seconds for the whole pass, and CPU seconds per photo.

    CPU time is this thread's (``time.thread_time``): on a shared machine it leaves out the time
    the thread spent waiting for a core, which wall time does not.
    """
    gc.collect()
    each = []
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for p in photos:
        t0 = time.thread_time()
        fn(p)
        each.append(time.thread_time() - t0)
    return time.perf_counter() - wall0, time.thread_time() - cpu0, each


def _by_size(photos: Sequence[Photo], per_photo: dict[str, list[float]]) -> list[JsonDict]:
    """Speed per size band, from each photo's best CPU time over the rounds."""
    bands = []
    for lo, hi, label in SIZE_BANDS:
        idx = [i for i, p in enumerate(photos) if lo <= p.megapixels < hi]
        if not idx:
            continue
        secs = {m: sum(t[i] for i in idx) for m, t in per_photo.items()}
        mp = sum(photos[i].megapixels for i in idx)
        bands.append(
            {
                "band": label,
                "photos": len(idx),
                "mean_megapixels": round(mp / len(idx), 3),
                "images_per_s": {m: round(len(idx) / s, 2) for m, s in secs.items()},
                "ratio": round(secs["imagehash"] / secs["ours"], 3),
            }
        )
    return bands


def time_extraction(originals: Path, rounds: int) -> JsonDict:
    import imagehash

    from backend.core.decode import DecodeLimits
    from backend.core.features import extract_features

    photos = load_originals(originals)
    if not photos:
        raise SystemExit(f"no originals with min side >= {MIN_SIDE} in {originals}")
    limits = DecodeLimits()
    total_mp = sum(p.megapixels for p in photos)

    def ours(p: Photo) -> object:
        return extract_features(p.data, p.name, limits)

    def phash(p: Photo) -> object:
        return imagehash.phash(Image.open(io.BytesIO(p.data)))

    methods: dict[str, Callable[[Photo], object]] = {"ours": ours, "imagehash": phash}
    for fn in methods.values():  # warm-up: imports, lazy initialisation, caches
        _time_pass(fn, photos[:5])
    walls: dict[str, list[float]] = {m: [] for m in methods}
    cpus: dict[str, list[float]] = {m: [] for m in methods}
    per_photo: dict[str, list[float]] = {m: [float("inf")] * len(photos) for m in methods}
    order = list(methods)
    for r in range(rounds):
        for m in order if r % 2 == 0 else order[::-1]:  # alternate which goes first
            wall, cpu, each = _time_pass(methods[m], photos)
            walls[m].append(wall)
            cpus[m].append(cpu)
            per_photo[m] = [min(a, b) for a, b in zip(per_photo[m], each, strict=True)]
            log(f"extraction round {r + 1}/{rounds} {m}: {wall:.2f} s wall, {cpu:.2f} s cpu")

    out: JsonDict = {
        "subset": f"all originals with min side >= {MIN_SIDE} px",
        "photos": len(photos),
        "total_megapixels": round(total_mp, 2),
        "mean_megapixels": round(total_mp / len(photos), 3),
        "rounds": rounds,
        "methods": {},
    }
    for m in methods:
        cpu, wall, wall_median = min(cpus[m]), min(walls[m]), statistics.median(walls[m])
        out["methods"][m] = {
            "wall_s": [round(x, 3) for x in walls[m]],
            "cpu_s": [round(x, 3) for x in cpus[m]],
            "best_cpu_s": round(cpu, 3),
            "best_wall_s": round(wall, 3),
            "median_wall_s": round(wall_median, 3),
            "images_per_s": round(len(photos) / cpu, 2),  # per core, from the best CPU time
            "megapixels_per_s": round(total_mp / cpu, 2),
            "images_per_s_wall": round(len(photos) / wall, 2),
        }
    o, b = out["methods"]["ours"], out["methods"]["imagehash"]
    out["ratio"] = round(b["best_cpu_s"] / o["best_cpu_s"], 3)
    out["ratio_best_wall"] = round(b["best_wall_s"] / o["best_wall_s"], 3)
    out["ratio_median_wall"] = round(b["median_wall_s"] / o["median_wall_s"], 3)
    out["target_ratio"] = 2.0
    out["by_size"] = _by_size(photos, per_photo)
    # The target is stated for full-size photos: below ~2 MP a JPEG cannot be decoded at a
    # reduced scale by much, so both methods pay the same full decode there.
    full = [i for i, p in enumerate(photos) if p.megapixels >= FULL_SIZE_MP]
    if full:
        secs = {m: sum(per_photo[m][i] for i in full) for m in methods}
        out["full_size"] = {
            "photos": len(full),
            "min_megapixels": FULL_SIZE_MP,
            "mean_megapixels": round(sum(photos[i].megapixels for i in full) / len(full), 3),
            "images_per_s": {m: round(len(full) / x, 2) for m, x in secs.items()},
            "ratio": round(secs["imagehash"] / secs["ours"], 3),
        }
    return out


# --------------------------------------------------------------------------- 4. baseline


def baseline_phash(shared: Path, bench: Path) -> JsonDict:
    import imagehash
    import numpy as np

    images = bench / "images"
    names = sorted(os.listdir(images))
    started = time.perf_counter()
    hashes = []
    for name in names:
        with Image.open(images / name) as im:
            hashes.append(imagehash.phash(im).hash.flatten())
    hash_s = time.perf_counter() - started
    bits = np.array(hashes, dtype=bool)  # (n, 64)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)

    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(dist <= BASELINE_DISTANCE, k=1)), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(find(i), []).append(name)
    near = [sorted(g) for g in groups.values() if len(g) > 1]
    return {
        "method": f"imagehash.phash, Hamming <= {BASELINE_DISTANCE}, union-find, no flips",
        "tier_predicted": "near",
        "hash_s": round(hash_s, 3),
        "groups": len(near),
        "score": score(shared, bench / "truth.json", {"near": near}),
    }


# --------------------------------------------------------------------------- 5. report


def environment(seed: int, bench: Path) -> JsonDict:
    import imagehash
    import PIL
    from PIL import features

    cpu, commit = cpu_name(), git_commit(REPO)
    truth = json.loads((bench / "truth.json").read_text())
    edits: dict[str, int] = {}
    for info in truth["images"].values():
        edits[info["edit"]] = edits.get(info["edit"], 0) + 1
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": MACHINE_NOTE,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "imagehash": getattr(imagehash, "__version__", "?"),
        "commit": commit,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "seed": seed,
        "benchmark": {
            "originals": edits.get("original", 0),
            "images": len(truth["images"]),
            "exact_groups": len(truth["exact"]),
            "near_groups": len(truth["near"]),
            "similar_groups": len(truth["similar"]),
        },
    }


def _score_rows(label: str, s: JsonDict, tiers: Sequence[str]) -> list[list[str]]:
    rows = []
    for t in tiers:
        r = s[t]
        rows.append(
            [
                label,
                t,
                f"{r['precision']:.4f}",
                f"{r['recall']:.4f}",
                f"{r['f1']:.4f}",
                str(r["true_pairs"]),
                str(r["predicted_pairs"]),
            ]
        )
    return rows


def tables(res: JsonDict) -> list[tuple[str, list[str], list[list[str]]]]:
    scan, base, ext = res["scan"], res["baseline"], res["extraction"]
    quality = _score_rows("dupfinder scan", scan["score"], TIERS) + _score_rows(
        "imagehash pHash <= 10 (baseline)", base["score"], ("near", "similar")
    )
    bursts = [
        [
            label,
            f"{s['bursts_in_near_tier']['wrongly_near']} of {s['bursts_in_near_tier']['pairs']}",
        ]
        for label, s in (("dupfinder scan", scan["score"]), ("baseline", base["score"]))
    ]
    timing = [
        ["first scan (fresh data dir)", f"{scan['first_scan_s']:.2f}"],
        ["second scan (same data dir, features reused)", f"{scan['second_scan_s']:.2f}"],
    ]
    speed = []
    for key, label in (
        ("ours", "extract_features (ours)"),
        ("imagehash", "imagehash.phash (full decode)"),
    ):
        m = ext["methods"][key]
        speed.append(
            [
                label,
                f"{m['best_cpu_s']:.2f}",
                f"{m['images_per_s']:.1f}",
                f"{m['megapixels_per_s']:.1f}",
                f"{m['best_wall_s']:.2f}",
                f"{m['median_wall_s']:.2f}",
            ]
        )
    bands = [
        [
            b["band"],
            str(b["photos"]),
            f"{b['mean_megapixels']:.2f}",
            f"{b['images_per_s']['ours']:.1f}",
            f"{b['images_per_s']['imagehash']:.1f}",
            f"{b['ratio']:.2f}",
        ]
        for b in ext["by_size"]
    ]
    return [
        (
            "Duplicate groups (pairwise, score.py)",
            ["method", "tier", "precision", "recall", "F1", "true pairs", "predicted pairs"],
            quality,
        ),
        ("Burst pairs wrongly put in the near tier", ["method", "wrongly near"], bursts),
        (f"Scan wall time ({scan['images']} images)", ["scan", "seconds"], timing),
        (
            f"Feature extraction, one thread, {ext['photos']} full-size originals "
            f"(mean {ext['mean_megapixels']:.2f} MP)",
            ["method", "best CPU s", "images/s", "MP/s", "best wall s", "median wall s"],
            speed,
        ),
        (
            "Extraction speed by photo size (each photo's best CPU time over the rounds)",
            ["size band", "photos", "mean MP", "ours images/s", "imagehash images/s", "ratio"],
            bands,
        ),
    ]


def ratio_line(ext: JsonDict) -> str:
    line = (
        f"ours/imagehash speed ratio on all {ext['photos']} photos: {ext['ratio']:.2f}x by "
        f"best-of-{ext['rounds']} CPU time ({ext['ratio_best_wall']:.2f}x best wall, "
        f"{ext['ratio_median_wall']:.2f}x median wall)"
    )
    full = ext.get("full_size")
    if full:
        verdict = "meets" if full["ratio"] >= ext["target_ratio"] else "BELOW"
        line += (
            f"; on the {full['photos']} full-size photos (>= {full['min_megapixels']:.0f} MP, "
            f"mean {full['mean_megapixels']:.1f} MP): {full['ratio']:.2f}x, {verdict} the "
            f"target of {ext['target_ratio']:.1f}x"
        )
    return line


def markdown(res: JsonDict) -> str:
    env, ext, base = res["environment"], res["extraction"], res["baseline"]
    b = env["benchmark"]
    same = "gave the same groups" if res["scan"]["second_scan_same_groups"] else "DIFFERED"
    parts = [
        MARK_START,
        "## Core slice: scan quality, rescan time and feature-extraction speed",
        "",
        f"- Date: {env['date']} (commit {env['commit']})",
        f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}); Python {env['python']}, "
        f"Pillow {env['pillow']} (libjpeg-turbo {env['libjpeg_turbo']}), "
        f"imagehash {env['imagehash']}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in env['load_average_at_start'])} (1/5/15 min)",
        f"- Command: `{res['command']}`",
        f"- Benchmark: `make_benchmark.py --seed {env['seed']}` on the photos from `photos.sh`: "
        f"{b['originals']} originals, {b['images']} images, {b['exact_groups']} exact, "
        f"{b['near_groups']} near and {b['similar_groups']} similar groups",
        f"- Scan: `{res['scan']['command']}` with the models off (the hash pipeline: "
        "DUPFINDER_COPY_MODEL, _OBJECT_MODEL and _CLIP_MODEL = none) as a subprocess "
        "(wall time includes start-up); "
        f"the second scan {same}",
        f"- Baseline: {base['method']}; its groups are scored as the near tier "
        f"(it predicts no exact tier); hashing the {res['scan']['images']} images took "
        f"{base['hash_s']:.1f} s",
        f"- Extraction: {ext['subset']} ({ext['photos']} photos, {ext['total_megapixels']:.1f} MP, "
        f"mean {ext['mean_megapixels']:.2f} MP), bytes in memory, timed in one process and one "
        f"thread, {ext['rounds']} interleaved rounds (alternating which method goes first); "
        "images/s and MP/s are per core, from each method's best round by thread CPU time "
        "(the machine is shared, so wall time is also shown but is the noisier figure)",
        "",
    ]
    for title, header, rows in tables(res):
        parts += [f"### {title}", "", md_table(header, rows), ""]
    parts += [f"**{ratio_line(ext)}.**", "", MARK_END]
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="shared folder")
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache", help="build folder")
    ap.add_argument("--seed", type=int, default=1, help="make_benchmark.py seed")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved extraction rounds")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args(argv)
    shared = args.shared.resolve() / "bench"
    cache = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    originals, bench = build_benchmark(shared, cache, args.seed)
    given = list(sys.argv[1:] if argv is None else argv)
    res: JsonDict = {"command": shlex.join([".venv/bin/python", "bench/run_benchmark.py", *given])}
    res["environment"] = environment(args.seed, bench)  # before the scan: load of others
    res["scan"] = scan_benchmark(shared, bench)
    log("baseline: imagehash.phash grouping")
    res["baseline"] = baseline_phash(shared, bench)
    log("extraction timing")
    res["extraction"] = time_extraction(originals, args.rounds)
    res["total_s"] = round(time.perf_counter() - started, 1)

    for title, header, rows in tables(res):
        print(f"\n{title}\n{text_table(header, rows)}")
    print(f"\n{ratio_line(res['extraction'])}")
    if not args.no_write:
        update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, markdown(res))
        update_results_json(BENCH_DIR / "results.json", RESULTS_KEY, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
