#!/usr/bin/env python3
"""Distributed-mode benchmark: batch throughput with 1 and 2 Celery worker processes, and the
per-image overhead of the distributed path against the embedded one.

usage: python bench/distributed_benchmark.py [--families N] [--size WxH] [--rounds N] [--models]
                                             [--no-write]

One batch of photo-like JPEGs (``--families`` x 4: an original, its byte copy, a half-size
and a mirrored copy; made with tests/helpers/images.py once and cached under
``.bench-cache/distributed/``) is analysed and grouped by:

- ``embedded-sqlite``: the embedded runtime (SQLite, in-process worker, 1 analysis thread
  plus its grouping thread), as ``dupfinder serve`` runs by default;
- ``embedded-pg``: the same embedded runtime on PostgreSQL (separates the database's cost
  from the queue's);
- ``celery-1`` / ``celery-2``: 1 or 2 ``dupfinder worker --concurrency 1`` processes, on
  PostgreSQL (a temporary database on 127.0.0.1:5432) and a private ``redis-server``.

Models are off unless ``--models``: then every path runs the default models (SSCD copy
detection; YOLOv4-tiny tagging the images, after their groups are ready; CLIP has no weights
here), the same settings in the runtime and in every worker process. Every run has a fresh
database and image store. The files are ingested first (untimed:
``ingest_upload``, as the upload endpoint does); the clock runs from the first enqueue (one
``features.extract`` per image, as the endpoint sends them) until the job is ``done``. Worker
start-up is not timed (the workers are ready before the first message). Each run checks that
every image was counted once and that the groups are exactly the expected ones.

Prints a table and updates ``bench/RESULTS.md`` (its ``distributed`` section, or
``distributed-models``) and ``bench/results.json`` (the key of the same name).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from results_file import (  # noqa: E402  (beside this script, in bench/)
    cpu_name,
    git_commit,
    md_table,
    text_table,
    update_results_json,
    update_results_md,
)
from sqlmodel import Session  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.models import Job, User  # noqa: E402
from backend.runtime import Runtime, build_runtime  # noqa: E402
from backend.services.ingestion.upload import IncomingFile, ingest_upload  # noqa: E402
from backend.services.job_queue import bind_jobs  # noqa: E402
from backend.services.pipeline import EXTRACT  # noqa: E402
from backend.services.worker.tasks import TASKS, resolve  # noqa: E402
from tests.helpers import images as img  # noqa: E402
from tests.helpers.app import MODELS_OFF, MODELS_ON, make_settings  # noqa: E402
from tests.helpers.distributed import PrivateRedis, WorkerProcess  # noqa: E402
from tests.helpers.postgres import temporary_database  # noqa: E402

BENCH_DIR = REPO / "bench"
SECTION = "distributed"
SECTION_MODELS = "distributed-models"
MACHINE_NOTE = "2 cores, shared/noisy"
TARGET_SCALING = 1.7
RUN_TIMEOUT = 600.0
MODES = ("embedded-sqlite", "embedded-pg", "celery-1", "celery-2")

JsonDict = dict[str, Any]
Files = list[tuple[str, bytes]]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- images


def read_families(folder: Path, families: int) -> Files:
    """The batch's files, each family's four in turn."""
    return [
        (f"{prefix}.jpg", (folder / f"{prefix}.jpg").read_bytes())
        for n in range(families)
        for prefix in (f"p{n}", f"p{n}-copy", f"p{n}-small", f"p{n}-mirror")
    ]


def build_images(cache: Path, families: int, size: tuple[int, int]) -> Files:
    """The batch, from the cache when it is there."""
    folder = cache / f"families{families}-{size[0]}x{size[1]}"
    done = folder / "done"
    if not done.exists():
        log(f"images: making {families * 4} in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(families):
            original = img.jpeg(1000 + n, size)
            for name, data in (
                (f"p{n}.jpg", original),
                (f"p{n}-copy.jpg", original),
                (f"p{n}-small.jpg", img.resized(original)),
                (f"p{n}-mirror.jpg", img.flipped(original)),
            ):
                (folder / name).write_bytes(data)
        done.write_text(f"{families * 4}\n")
    else:
        log(f"images: reusing {folder}")
    return read_families(folder, families)


# Real photos for the models-on runs (the generated pictures are blurred noise and flat shapes,
# which SSCD was not trained on: it scores two different ones as copies, 0.68). Left out: what
# make_benchmark.py leaves out (category thumbnails, rendered masks), labelme's renderings drawn
# over one photo (_xxxxxx suffixes) and kphotoalbum's second shots (bursts of one scene).
NOT_A_DISTINCT_PHOTO = re.compile(
    r"(People-|Places-|Keywords-|annotation|draw_|primitives|qt-logo|__0000010\d|__000[12]\.|"
    r"_[0-9a-f]{6}\.jpg$|^kphotoalbum__.*_\d\.jpg$)"
)
MIN_SIDE = 300


def build_photo_families(originals: Path, cache: Path, families: int) -> Files:
    """``families`` distinct real photos (JPEGs of at least MIN_SIDE px, the benchmark's
    originals: bench/run_benchmark.py collects them), each with a byte copy, a half-size copy
    and a mirrored copy (both re-encoded at quality 90), made once into the cache."""
    from PIL import Image, ImageOps

    folder = cache / f"photos{families}"
    done = folder / "done"
    if not done.exists():
        chosen = []
        for path in sorted(originals.iterdir()):
            if NOT_A_DISTINCT_PHOTO.search(path.name) or path.suffix.lower() != ".jpg":
                continue
            with Image.open(path) as im:
                if min(im.size) >= MIN_SIDE:
                    chosen.append(path)
        if len(chosen) < families:
            raise SystemExit(f"only {len(chosen)} distinct photos in {originals}")
        log(f"images: making {families * 4} from real photos in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        for n, path in enumerate(chosen[:families]):
            raw = path.read_bytes()
            with Image.open(path) as im:
                upright = ImageOps.exif_transpose(im).convert("RGB")
            half = upright.resize(
                (upright.width // 2, upright.height // 2), Image.Resampling.LANCZOS
            )
            for name, data in (
                (f"p{n}.jpg", raw),
                (f"p{n}-copy.jpg", raw),
                (f"p{n}-small.jpg", img.encode(half, quality=90)),
                (f"p{n}-mirror.jpg", img.encode(ImageOps.mirror(upright), quality=90)),
            ):
                (folder / name).write_bytes(data)
        done.write_text(f"{families * 4}\n")
    else:
        log(f"images: reusing {folder}")
    return read_families(folder, families)


# --------------------------------------------------------------------------- one run


class _HeldBack:
    def enqueue(self, name: str, **kwargs: Any) -> None:
        pass

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        pass

    def reachable(self) -> bool:
        return True


def ingest(runtime: Runtime, files: Files) -> tuple[int, int, list[int]]:
    """A new owner and a job with every file stored and pending (not timed)."""
    ctx = runtime.ctx
    with Session(ctx.engine) as session:
        # The analysis jobs ingest_upload queues are held back: the run sends them itself,
        # when its clock starts.
        bind_jobs(session, _HeldBack())
        user = User(email="bench@example.com", hashed_password="!")
        session.add(user)
        session.flush()
        assert user.id is not None
        result = ingest_upload(
            session,
            ctx.store,
            ctx.settings.decode_limits,
            user.id,
            (IncomingFile(name, data) for name, data in files),
        )
        session.commit()
        assert result.job.id is not None and not result.rejected
        return user.id, result.job.id, [i.id for i in result.images if i.id is not None]


def job_state(runtime: Runtime, job_id: int) -> tuple[str, int, int, int]:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state.value, job.total, job.done, job.failed


def check_groups(runtime: Runtime, owner: int, families: int) -> bool:
    """Exactly one exact group (photo + byte copy) and one near group (the family) each."""
    from backend.services.grouping.queries import list_groups

    expected_near = sorted(
        sorted([f"p{n}.jpg", f"p{n}-copy.jpg", f"p{n}-small.jpg", f"p{n}-mirror.jpg"])
        for n in range(families)
    )
    expected_exact = sorted(sorted([f"p{n}.jpg", f"p{n}-copy.jpg"]) for n in range(families))
    with Session(runtime.engine) as session:
        views, _ = list_groups(session, owner, None, 1, 10 * families)
        near = sorted(
            sorted(i.filename for i in v.images) for v in views if v.group.tier.value == "near"
        )
        exact = sorted(
            sorted(i.filename for i in v.images) for v in views if v.group.tier.value == "exact"
        )
    return near == expected_near and exact == expected_exact


def timed_batch(
    runtime: Runtime, files: Files, send: Callable[[int], None], families: int
) -> JsonDict:
    owner, job_id, ids = ingest(runtime, files)
    started = time.perf_counter()
    for image_id in ids:
        send(image_id)
    sent = time.perf_counter() - started
    while True:
        state, total, done, failed = job_state(runtime, job_id)
        if state == "done":
            break
        if time.perf_counter() - started > RUN_TIMEOUT:
            raise RuntimeError(f"the batch did not finish in {RUN_TIMEOUT:.0f} s ({done}/{total})")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    return {
        "images": len(ids),
        "seconds": round(seconds, 3),
        "enqueue_seconds": round(sent, 3),
        "images_per_s": round(len(ids) / seconds, 2),
        "ms_per_image": round(1000 * seconds / len(ids), 2),
        "counted_once": (total, done, failed) == (len(ids), len(ids), 0),
        "groups_ok": check_groups(runtime, owner, families),
    }


def model_settings(models: bool) -> dict[str, str]:
    """The same model settings for the runtime and every worker process: a worker must not
    take them from whatever environment the benchmark was started in."""
    return dict(MODELS_ON if models else MODELS_OFF)


def run_embedded(
    files: Files, families: int, tmp: Path, models: bool, database_url: str = ""
) -> JsonDict:
    extra: dict[str, Any] = {"DATABASE_URL": database_url} if database_url else {}
    extra.update(model_settings(models))
    # The service's default gathering of grouping requests (the test helper turns it off).
    gather = Settings.model_fields["grouping_gather_seconds"].default
    settings = make_settings(
        tmp / "data", DUPFINDER_WORKER_THREADS=1, DUPFINDER_GROUPING_GATHER_SECONDS=gather, **extra
    )
    with timing_tasks() as times:
        runtime = build_runtime(settings, embedded=True)
        try:
            worker = runtime.embedded_worker()
            out = timed_batch(
                runtime, files, lambda i: worker.enqueue(EXTRACT, image_id=i), families
            )
        finally:
            runtime.close()
    out["tasks"] = _task_summary(times)
    return out


@contextmanager
def timing_tasks() -> Iterator[list[tuple[str, float]]]:
    """The embedded worker's task runs, timed (name, seconds), like Celery's own log lines:
    the registry's entries are wrapped for the duration (the embedded worker reads them)."""
    times: list[tuple[str, float]] = []
    saved = dict(TASKS)

    def timed(name: str, fn: Callable[..., None]) -> Callable[..., None]:
        def run(ctx: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                fn(ctx, **kwargs)
            finally:
                times.append((name, time.perf_counter() - started))

        return run

    for name, spec in saved.items():
        TASKS[name] = dataclasses.replace(spec, fn=timed(name, resolve(spec.fn)))
    try:
        yield times
    finally:
        TASKS.update(saved)


def _task_summary(times: Sequence[tuple[str, float]]) -> JsonDict:
    out: JsonDict = {}
    for name, seconds in times:
        entry = out.setdefault(name, {"count": 0, "seconds": 0.0})
        entry["count"] += 1
        entry["seconds"] += seconds
    for entry in out.values():
        entry["seconds"] = round(entry["seconds"], 2)
        entry["mean_ms"] = round(1000 * entry["seconds"] / entry["count"], 2)
    return out


def run_celery(files: Files, families: int, tmp: Path, workers: int, models: bool) -> JsonDict:
    with ExitStack() as stack:
        url = stack.enter_context(temporary_database())
        redis = PrivateRedis(tmp)
        redis.start()
        stack.callback(redis.stop)
        overrides: dict[str, Any] = {
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis.url,
            "DUPFINDER_SWEEP_SECONDS": 600,  # no lost work here: keep the sweep out of it
            **model_settings(models),
        }
        settings: Settings = make_settings(tmp / "data", **overrides)
        runtime = build_runtime(settings)  # migrates; sends jobs to Celery
        stack.callback(runtime.close)
        env = {
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis.url,
            "DUPFINDER_DATA_DIR": str(tmp / "data"),
            "DUPFINDER_SWEEP_SECONDS": "600",
            "DUPFINDER_AUTO_MIGRATE": "false",
            **model_settings(models),
        }
        for n in range(workers):
            w = WorkerProcess(env, tmp / f"worker{n}.log", concurrency=1)
            stack.callback(w.stop)
        jobs = runtime.ctx.jobs
        out = timed_batch(runtime, files, lambda i: jobs.enqueue(EXTRACT, image_id=i), families)
        out["tasks"] = task_times([tmp / f"worker{n}.log" for n in range(workers)])
        return out
    raise AssertionError("unreachable")


TASK_DONE = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_times(logs: list[Path]) -> JsonDict:
    """How many tasks of each kind the workers ran, and their summed run time (Celery's own
    figure, from the worker logs): where a Celery worker's time goes."""
    return _task_summary(
        [
            (name, float(seconds))
            for path in logs
            for name, seconds in TASK_DONE.findall(path.read_text(errors="replace"))
        ]
    )


def run_mode(mode: str, files: Files, families: int, models: bool) -> JsonDict:
    with tempfile.TemporaryDirectory(prefix=f"dupfinder-bench-{mode}-") as tmp:
        if mode == "embedded-sqlite":
            return run_embedded(files, families, Path(tmp), models)
        if mode == "embedded-pg":
            with temporary_database() as url:
                return run_embedded(files, families, Path(tmp), models, url)
        return run_celery(files, families, Path(tmp), int(mode.rsplit("-", 1)[1]), models)


# --------------------------------------------------------------------------- report


def environment() -> JsonDict:
    cpu, commit = cpu_name(), git_commit(REPO)
    import celery
    import psycopg

    pg_version = "?"
    try:
        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg_version = str(row[0]) if row else "?"
    except psycopg.Error:
        pass
    redis_version = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split(" v=")[-1]
        .split()[0]
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": MACHINE_NOTE,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "celery": celery.__version__,
        "postgresql": pg_version,
        "redis": redis_version,
        "commit": commit,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def summarise(runs: dict[str, list[JsonDict]]) -> JsonDict:
    """Each mode's best round (highest images/s) and the median, and the derived figures."""
    modes: JsonDict = {}
    for mode, rounds in runs.items():
        best = max(rounds, key=lambda r: r["images_per_s"])
        modes[mode] = {
            **best,
            "median_images_per_s": round(statistics.median(r["images_per_s"] for r in rounds), 2),
            "all_images_per_s": [r["images_per_s"] for r in rounds],
            "all_correct": all(r["counted_once"] and r["groups_ok"] for r in rounds),
        }
    one, two = modes["celery-1"], modes["celery-2"]
    sqlite, pg = modes["embedded-sqlite"], modes["embedded-pg"]
    return {
        "modes": modes,
        "scaling_2_over_1": round(two["images_per_s"] / one["images_per_s"], 2),
        "scaling_target": TARGET_SCALING,
        "overhead_ms_per_image": {
            "celery-1 vs embedded-sqlite": round(one["ms_per_image"] - sqlite["ms_per_image"], 2),
            "embedded-pg vs embedded-sqlite (database)": round(
                pg["ms_per_image"] - sqlite["ms_per_image"], 2
            ),
            "celery-1 vs embedded-pg (queue and processes)": round(
                one["ms_per_image"] - pg["ms_per_image"], 2
            ),
            "celery-1: wall time outside its tasks (messages, dispatch)": round(
                one["ms_per_image"]
                - 1000 * sum(t["seconds"] for t in one["tasks"].values()) / one["images"],
                2,
            ),
        },
    }


LABELS = {
    "embedded-sqlite": "embedded, SQLite, 1 analysis thread",
    "embedded-pg": "embedded, PostgreSQL, 1 analysis thread",
    "celery-1": "Celery, 1 worker process (concurrency 1)",
    "celery-2": "Celery, 2 worker processes (concurrency 1 each)",
}


def table_rows(summary: JsonDict) -> list[list[str]]:
    rows = []
    for mode in MODES:
        m = summary["modes"][mode]
        rows.append(
            [
                LABELS[mode],
                str(m["images"]),
                f"{m['seconds']:.2f}",
                f"{m['images_per_s']:.1f}",
                f"{m['median_images_per_s']:.1f}",
                f"{m['ms_per_image']:.1f}",
                "yes" if m["all_correct"] else "NO",
            ]
        )
    return rows


HEADER = [
    "path",
    "images",
    "best s",
    "images/s (best)",
    "images/s (median)",
    "ms/image",
    "all counted once, groups exact",
]


TASK_HEADER = ["path", "task", "runs", "mean ms per run", "total s"]


def task_rows(summary: JsonDict) -> list[list[str]]:
    rows = []
    for mode in MODES:
        for name, t in sorted(summary["modes"][mode].get("tasks", {}).items()):
            rows.append([mode, name, str(t["count"]), f"{t['mean_ms']:.1f}", f"{t['seconds']:.1f}"])
    return rows


def overhead_rows(summary: JsonDict) -> list[list[str]]:
    return [[k, f"{v:+.1f}"] for k, v in summary["overhead_ms_per_image"].items()]


def verdict(summary: JsonDict) -> str:
    s = summary["scaling_2_over_1"]
    ok = "meets" if s >= summary["scaling_target"] else "BELOW"
    return (
        f"2 workers / 1 worker: {s:.2f}x throughput, {ok} the target of "
        f"{summary['scaling_target']:.1f}x; distributed overhead "
        f"{summary['overhead_ms_per_image']['celery-1 vs embedded-sqlite']:+.1f} ms/image "
        "(1 Celery worker against the embedded runtime)"
    )


def markdown(res: JsonDict) -> str:
    env, s = res["environment"], res["summary"]
    section = SECTION_MODELS if res["models"] else SECTION
    title = "Distributed mode: throughput with 1 and 2 workers, overhead per image"
    models = (
        "on: SSCD copy detection and YOLOv4-tiny (every image tagged, after its groups are "
        "ready), the same settings in the runtime and every worker; CLIP off (no weights here)"
        if res["models"]
        else "off (hashes only)"
    )
    batch = (
        f"{res['families']} distinct real photos of the benchmark's originals"
        if res["models"]
        else f"{res['families']} photo-like pictures of {res['size']} from tests/helpers/images.py"
    )
    return "\n".join(
        [
            f"<!-- {section}:start -->",
            f"## {title}{', models on' if res['models'] else ''}",
            "",
            f"- Date: {env['date']} (commit {env['commit']})",
            f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}); Python "
            f"{env['python']}, Celery {env['celery']}, PostgreSQL {env['postgresql']} "
            f"(127.0.0.1:5432, a temporary database per run), redis-server {env['redis']} "
            f"(private, no persistence); load average at start "
            f"{' / '.join(f'{x:.2f}' for x in env['load_average_at_start'])} (1/5/15 min)",
            f"- Command: `{res['command']}`",
            f"- Batch: {res['images']} JPEGs ({batch}, each with a byte copy, a half-size and "
            "a mirrored copy), one owner, one job",
            "- Timed from the first `features.extract` enqueue to the job's `done` (ingest and "
            "worker start-up not timed); fresh database and store per run; "
            f"{res['rounds']} round(s) per path, best round shown with the median. Every run "
            "checked: each image counted once, exactly the expected exact and near groups",
            "- Celery workers: `dupfinder worker --concurrency 1` (prefork, one child each); "
            "embedded: 1 analysis thread plus the embedded worker's grouping thread",
            f"- Models: {models}",
            "",
            md_table(HEADER, table_rows(s)),
            "",
            "### Overhead per image (best rounds)",
            "",
            md_table(["difference", "ms/image"], overhead_rows(s)),
            "",
            "### Task runs and their time (best rounds)",
            "",
            md_table(TASK_HEADER, task_rows(s)),
            "",
            "Celery figures are the workers' own (`succeeded in` log lines; with 2 workers a "
            "grouping run includes its wait for the owner's lock); embedded ones are timed "
            "around the same task functions. The embedded worker runs grouping on its own "
            "thread, beside the analysis thread, and drops a grouping request while one for "
            "the same owner is still waiting (`TaskSpec.dedupe`); a Celery worker with "
            "concurrency 1 runs every `features.extract` and every `grouping.update` (one per "
            "image) in turn.",
            "",
            f"**{verdict(s)}.**",
            "",
            f"<!-- {section}:end -->",
        ]
    )


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--families", type=int, default=250, help="pictures (x4 files each)")
    ap.add_argument("--size", default="640x480", help="original picture size, WxH")
    ap.add_argument("--rounds", type=int, default=1, help="runs per path (order alternates)")
    ap.add_argument(
        "--cache", type=Path, default=REPO / ".bench-cache" / "distributed", help="image cache"
    )
    ap.add_argument(
        "--models", action="store_true", help="the default models on (SSCD, YOLO), real photos"
    )
    ap.add_argument(
        "--originals",
        type=Path,
        default=REPO / ".bench-cache" / "originals",
        help="real photos for --models (bench/run_benchmark.py collects them)",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    started = time.perf_counter()
    if args.models:
        files = build_photo_families(args.originals, args.cache.resolve(), args.families)
    else:
        files = build_images(args.cache.resolve(), args.families, (w, h))
    given = list(sys.argv[1:] if argv is None else argv)
    res: JsonDict = {
        "command": shlex.join([".venv/bin/python", "bench/distributed_benchmark.py", *given]),
        "environment": environment(),
        "families": args.families,
        "images": len(files),
        "size": f"{w}x{h}",
        "rounds": args.rounds,
        "models": args.models,
    }
    runs: dict[str, list[JsonDict]] = {mode: [] for mode in MODES}
    for r in range(args.rounds):
        order = MODES if r % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            log(f"round {r + 1}/{args.rounds}: {mode}")
            out = run_mode(mode, files, args.families, args.models)
            log(
                f"  {out['images']} images in {out['seconds']:.2f} s: "
                f"{out['images_per_s']:.1f} images/s (counted once: {out['counted_once']}, "
                f"groups exact: {out['groups_ok']})"
            )
            runs[mode].append(out)
    res["runs"] = runs
    res["summary"] = summarise(runs)
    res["total_s"] = round(time.perf_counter() - started, 1)

    print(f"\n{text_table(HEADER, table_rows(res['summary']))}")
    print(f"\n{text_table(['difference', 'ms/image'], overhead_rows(res['summary']))}")
    print(f"\n{text_table(TASK_HEADER, task_rows(res['summary']))}")
    print(f"\n{verdict(res['summary'])}  (total {res['total_s']:.0f} s)")
    if not args.no_write:
        section = SECTION_MODELS if args.models else SECTION
        start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
        update_results_md(BENCH_DIR / "RESULTS.md", start, end, markdown(res))
        update_results_json(BENCH_DIR / "results.json", section, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")
    return 0 if all(m["all_correct"] for m in res["summary"]["modes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
