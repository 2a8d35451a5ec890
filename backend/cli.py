"""``dupfinder``: scan a folder for duplicates, or serve the API with its embedded worker."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from backend.heap import defer_collection, freeze_startup_objects
from backend_scraper.cli import add_scrape_parser, run_scrape

# Each command imports what it needs when it runs: `--help` and a scan of a small folder must
# not wait for the web framework, Celery, OpenCV or ONNX Runtime (tests/backend/test_cli_imports).
if TYPE_CHECKING:
    from backend.config import Settings
    from backend.services.scan import ScanReport


# Commands that freeze the start-up heap themselves once loaded (see backend/heap.py); the
# program turns the collector back on before any other command's work.
LOADS_THEN_FREEZES = frozenset({"scan", "import-takeout"})


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _space(paths: list[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            pass  # gone since the scan: it frees nothing
    return total


def _summary(report: ScanReport) -> str:
    from backend.services.ingestion.folder import display_name
    from backend.services.move import to_move

    lines = [
        f"Scanned {report.files} files in {report.root} "
        f"({report.analysed} analysed now, the rest remembered) in {report.seconds:.1f} s."
    ]
    skipped = [f"\nSkipped {len(report.skipped)} file(s):"] if report.skipped else []
    skipped.extend(f"  {display_name(p)}: {r}" for p, r in report.skipped)
    if report.files == len(report.skipped):
        lines.append(f"No images were found in {display_name(report.root)}.")
        return "\n".join(lines + skipped)
    for tier, title, extra in (
        ("exact", "Exact duplicates (identical pictures)", "extra copies"),
        ("near", "Near-duplicates (the same photo, edited or re-encoded)", "extra copies"),
        ("similar", "Similar shots (the same scene, taken again)", "other shots"),
    ):
        groups = [g for g in report.groups if g.tier == tier]
        if tier == "similar" and not groups:
            continue  # most folders have none; no empty heading
        copies = sum(len(g.paths) - 1 for g in groups)
        freed = sum(g.bytes_freed for g in groups)  # the groups of one tier share no file
        space = f", {_size(freed)} to free" if tier != "similar" else ""
        lines.append(f"\n{title}: {len(groups)} group(s), {copies} {extra}{space}")
        for n, g in enumerate(groups, 1):
            lines.append(f"  group {n}" + (f" (frees {_size(g.bytes_freed)}):" if space else ":"))
            for path in g.paths:
                mark = "keep" if path == g.keep else "    "
                lines.append(f"    [{mark}] {display_name(path)}")
            lines.append(f"    why keep: {'; '.join(g.reasons)}")
    spare = to_move(report.groups)  # a copy in an exact group is in its near group too
    if spare:
        lines.append(
            f"\nResolving the exact and near groups would free {_size(_space(spare))} "
            f"({len(spare)} extra copies; --move-duplicates DEST moves them aside)."
        )
    return "\n".join(lines + skipped)


def _folder_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the folders named, said before any progress bar."""
    from backend.services.move import inside

    folder = Path(args.folder)
    if not folder.exists():
        return f"{args.folder} does not exist"
    if not folder.is_dir():
        return f"{args.folder} is not a folder"
    if args.move_duplicates:
        dest = Path(args.move_duplicates)
        if dest.exists() and not dest.is_dir():
            return f"{args.move_duplicates} is not a folder"
        if inside(dest, folder):
            return (
                f"{args.move_duplicates} is inside {args.folder}: the moved copies would be "
                "scanned again; choose a folder outside it"
            )
    return None


def _move(report: ScanReport, args: argparse.Namespace) -> int:
    """--move-duplicates: move the extra copies aside; say where and how to undo it."""
    from backend.services.ingestion.folder import display_name
    from backend.services.move import move_duplicates, to_move

    out = sys.stderr if args.json else sys.stdout  # --json keeps stdout for the report
    done = move_duplicates(Path(args.folder), Path(args.move_duplicates), to_move(report.groups))
    if done.manifest is None:
        print("No duplicates to move.", file=out)
        return 0
    print(
        f"Moved {len(done.moved)} extra copies ({_size(done.bytes)}) to "
        f"{display_name(args.move_duplicates)}; nothing was deleted.\n"
        f"To put them back: dupfinder undo {display_name(str(done.manifest))}",
        file=out,
    )
    for path, why in done.problems:
        print(f"  not moved: {display_name(path)}: {why}", file=out)
    return 1 if done.problems else 0


def cmd_undo(args: argparse.Namespace, _settings: Settings) -> int:
    from backend.services.ingestion.folder import display_name
    from backend.services.move import undo

    if not Path(args.manifest).is_file():
        print(f"dupfinder: {args.manifest} does not exist", file=sys.stderr)
        return 2
    try:
        done = undo(Path(args.manifest))
    except ValueError as exc:
        print(f"dupfinder: {exc}", file=sys.stderr)
        return 2
    print(f"Moved {len(done.restored)} file(s) back where they were.")
    for path, why in done.problems:
        print(f"  could not restore {display_name(path)}: {why}")
    return 1 if done.problems else 0


def cmd_scan(args: argparse.Namespace, settings: Settings) -> int:
    problem = _folder_problem(args)
    if problem:  # said at once, before any progress bar
        print(f"dupfinder: {problem}", file=sys.stderr)
        return 2
    from backend.cli_progress import progress_display
    from backend.runtime import build_runtime
    from backend.services.scan import scan_folder

    if settings.object_tags == "auto":  # a scan shows no tags: only the people check's images
        settings = settings.model_copy(update={"object_tags": "candidates"})
    runtime = build_runtime(settings, embedded=True)  # it reads files on this machine
    if args.program:
        freeze_startup_objects()
    progress = progress_display("img", args.quiet)  # hashing, models, grouping
    progress("hashing", 0, 0)

    try:
        # Quiet: nothing to show, so nothing is counted (the counting queries the database).
        shown = None if args.quiet else progress
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), args.folder, shown)
    except NotADirectoryError as exc:
        print(f"dupfinder: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
        runtime.close()
    try:
        if args.json:
            json.dump(report.as_json(), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(_summary(report))
        sys.stdout.flush()
    except BrokenPipeError:  # `dupfinder scan --json | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.json and report.files == len(report.skipped):
        print(f"dupfinder: no images were found in {args.folder}", file=sys.stderr)
    moved = _move(report, args) if args.move_duplicates else 0
    if report.unfinished:
        print(
            f"dupfinder: {len(report.unfinished)} file(s) could not be analysed this time "
            "(see the log above); run the scan again to finish them",
            file=sys.stderr,
        )
        return 1
    return moved


def cmd_import_takeout(args: argparse.Namespace, settings: Settings) -> int:
    """Read the archives here (no upload), store the photos for the person, and analyse them:
    on this process's worker, or on the Celery workers when a broker is configured."""
    from backend.cli_progress import progress_display
    from backend.runtime import build_runtime
    from backend.services.ingestion import takeout

    paths = [Path(a) for a in args.archives]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"dupfinder: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    runtime = build_runtime(settings)
    if args.program:
        freeze_startup_objects()
    # reading the archive, importing photos, analysing
    progress = progress_display("file", args.quiet)

    try:
        job_id = takeout.job_for_person(runtime.ctx, args.user)
        if job_id is None:
            print(f"dupfinder: no account with the email {args.user}", file=sys.stderr)
            return 2
        try:
            report = takeout.import_takeout(runtime.ctx, job_id, paths, progress)
        except KeyboardInterrupt:
            reason = "interrupted; run the import again (what was stored is kept)"
            takeout.abandon_takeout(runtime.ctx, job_id, reason)
            raise
        worker = runtime.worker
        if worker is not None and not report.error:
            while not worker.wait_idle(timeout=0.2):
                progress("analysing", *takeout.job_progress(runtime.ctx, job_id))
            progress("analysing", *takeout.job_progress(runtime.ctx, job_id))
    finally:
        progress.close()
        runtime.close()
    print(f"job {job_id}: {report.summary()}")
    for name, reason in report.skipped if args.verbose else []:
        print(f"  skipped {name}: {reason}")
    if report.skipped and not args.verbose:
        print(f"  (-v lists the {len(report.skipped)} skipped file(s) and why)")
    if runtime.worker is None and not report.error:
        print("the photos are being analysed by the workers; follow the job in the web UI")
    return 1 if report.error else 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from backend import serve

    print(
        f"Duplicate Image Finder on http://{args.host}:{args.port} (API docs at /docs); "
        f"data in {settings.data_dir}",
        file=sys.stderr,
    )
    if settings.embedded_analysis == "auto":  # people wait on this process: analysis leaves it
        settings = settings.model_copy(update={"embedded_analysis": "processes"})
    return serve.run(settings, args.host, args.port)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.distributed:
        print(
            "dupfinder: set CELERY_BROKER_URL to run a worker (the embedded mode runs its "
            "own worker inside `dupfinder serve`)",
            file=sys.stderr,
        )
        return 2
    from backend.runtime import celery_worker_app
    from backend.services.worker.celery_app import context_of
    from backend.services.worker.sweeper import Sweeper
    from backend.services.worker.tasks import QUEUES

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        print(
            f"dupfinder: unknown queue(s) {', '.join(unknown)}; choose from "
            f"{', '.join(QUEUES)}",
            file=sys.stderr,
        )
        return 2
    app = celery_worker_app(settings)
    sweeper = Sweeper(lambda: context_of(app), settings.sweep_seconds, settings.celery_broker_url)
    from celery.signals import worker_ready, worker_shutdown

    worker_ready.connect(lambda **_: sweeper.start(), weak=False)  # after the pool has forked
    worker_shutdown.connect(lambda **_: sweeper.stop(), weak=False)
    argv = [
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(args.concurrency),
        "--loglevel",
        args.loglevel,
        "--hostname",
        args.hostname,
    ]
    if args.pool:
        argv += ["--pool", args.pool]
    app.worker_main(argv)
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from backend.db.migrate import prepare_database
    from backend.services.storage.blobstore import private_dirs

    if settings.is_sqlite:
        private_dirs(settings.data_dir)  # private, as the server makes it: 0700
    prepare_database(settings.database_url)
    print("database is at the latest schema", file=sys.stderr)
    return 0


def _backfill(settings: Settings) -> int:
    from backend.runtime import build_runtime
    from backend.services.features.analyse_models import backfill

    runtime = build_runtime(settings)  # Celery when a broker is configured, else in-process
    try:
        sent = backfill(runtime.ctx)
        print(f"sent {sent} image(s) back to the models", file=sys.stderr)
        if runtime.worker is not None:
            runtime.worker.wait_idle()
    finally:
        runtime.close()
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from backend.ml.fetch import run_fetch_command
    from backend.ml.registry import models_from_settings

    if args.action == "fetch-clip":
        name = args.name or settings.clip_model
        return run_fetch_command(name, settings.model_dir, args.base_url)
    if args.action == "backfill":
        return _backfill(settings)
    # status: which model serves what, loading each so a broken install shows here.
    models = models_from_settings(settings)
    failed = 0
    for role, model in (("copy detection", models.copy), ("CLIP", models.clip)):
        if model is None:
            continue
        try:
            model.load()
            print(f"{role}: {model.identity} (loaded)")
        except Exception as exc:  # report every model, not just the first that fails
            failed += 1
            print(f"{role}: {model.identity} FAILED: {exc}")
    if models.detector is not None:
        try:
            models.detector.load()
            print(f"objects: {models.detector.identity} (loaded)")
        except Exception as exc:
            failed += 1
            print(f"objects: {models.detector.identity} FAILED: {exc}")
    if models.clip is None:
        print(f"CLIP: not used: {models.clip_note}")
    print(f"similar tier served by: {models.similar_source()}")
    return 1 if failed else 0


def cmd_scrape(args: argparse.Namespace, settings: Settings) -> int:
    return run_scrape(
        args,
        page_url=settings.google_photos_url,
        api_url=settings.fastapi_endpoint,
        chromium=settings.chromium_path,
        data_dir=settings.data_dir,
    )


def main(argv: Sequence[str] | None = None, *, program: bool = False) -> int:
    """``program``: this call is the whole process (``run``), not a caller's."""
    parser = argparse.ArgumentParser(prog="dupfinder", description=__doc__)
    parser.add_argument(
        "--data-dir",
        help="where the database and images live "
        "(default: $DUPFINDER_DATA_DIR or ~/.local/share/dupfinder)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="find duplicates in a folder (recursively)")
    scan.add_argument("folder")
    scan.add_argument("--json", action="store_true", help="print the groups as JSON")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    scan.add_argument(
        "--move-duplicates",
        metavar="DEST",
        help="move the extra copies of exact and near groups (never similar shots) to DEST, "
        "under their paths relative to the folder, with an undo manifest; nothing is deleted",
    )
    undo = sub.add_parser("undo", help="move the copies of a --move-duplicates run back")
    undo.add_argument("manifest", help="the dupfinder-undo-*.json file it wrote")
    takeout = sub.add_parser(
        "import-takeout",
        help="import a Google Takeout export (its .zip / .tgz parts, all together) for a person",
    )
    takeout.add_argument("--user", required=True, help="the email of the person's account")
    takeout.add_argument("archives", nargs="+", help="the parts of one export")
    takeout.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    takeout.add_argument("-v", "--verbose", action="store_true", help="list skipped files")
    serve = sub.add_parser("serve", help="run the API and the embedded worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    worker = sub.add_parser("worker", help="run a Celery worker (distributed mode)")
    worker.add_argument(
        "--queues",
        default="ingest,cpu,model,grouping",
        help="comma-separated queues to consume (default: all)",
    )
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    worker.add_argument("--pool", default="", help="Celery pool (default prefork)")
    worker.add_argument("--hostname", default="dupfinder@%h")
    worker.add_argument("--loglevel", default="INFO")
    sub.add_parser("migrate", help="apply database migrations and exit")
    add_scrape_parser(sub)
    models = sub.add_parser("models", help="show the models in use, or fetch a CLIP export")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_sub.add_parser("status", help="load each configured model and say what serves what")
    models_sub.add_parser(
        "backfill",
        help="send the images that lack a result of the current models back to them "
        "(after a model change; `serve` does it at start-up)",
    )
    fetch = models_sub.add_parser(
        "fetch-clip",
        help="download an Immich CLIP export into the models folder (needs internet access)",
    )
    fetch.add_argument(
        "name", nargs="?", default="", help="export name (default: $DUPFINDER_CLIP_MODEL)"
    )
    fetch.add_argument(
        "--base-url",
        default="https://huggingface.co/immich-app",
        help="where the exports live (default: Immich's Hugging Face organisation)",
    )
    args = parser.parse_args(argv)
    args.program = program
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from backend.config import Settings

    overrides = {"DUPFINDER_DATA_DIR": args.data_dir} if args.data_dir else {}
    try:
        settings = Settings(**overrides)
    except (ValidationError, SettingsError) as exc:
        from backend.config.problems import settings_problems

        print("dupfinder: a setting is not valid (environment or .env):", file=sys.stderr)
        for line in settings_problems(exc):
            print(f"  {line}", file=sys.stderr)
        return 2
    handlers = {
        "scan": cmd_scan,
        "undo": cmd_undo,
        "import-takeout": cmd_import_takeout,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "migrate": cmd_migrate,
        "models": cmd_models,
        "scrape": cmd_scrape,
    }
    if program and args.command not in LOADS_THEN_FREEZES:
        freeze_startup_objects()  # the collector runs again before the command's work
    try:
        return handlers[args.command](args, settings)
    except KeyboardInterrupt:
        print("dupfinder: interrupted; what was analysed is kept for the next run", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The `dupfinder` program."""
    defer_collection()
    code = main(program=True)
    freeze_startup_objects()  # the process ends: its last collection need not walk the heap
    sys.exit(code)


if __name__ == "__main__":
    run()
