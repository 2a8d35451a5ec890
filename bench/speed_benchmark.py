#!/usr/bin/env python3
"""Speed against immaculate: whole processes side by side, in alternating rounds, medians.

usage: python bench/speed_benchmark.py [--cache DIR] [--rounds N] [--photos N] [--mixed N]
                                       [--only empty,hashes,tiers,backup] [--no-write]

Each comparison runs ``dupfinder scan`` and ``python -m immaculate`` as a person would (one
whole process per run, measured by ``/usr/bin/time``: wall, CPU, peak memory), on the same
folder, alternately (A B, B A, ...) so both see the same moments of a shared machine's load:

- empty: an empty folder. dupfinder twice: with its database already made (every later scan),
  and with a new data folder (the first scan ever, which creates the database); beside them
  the stack's floor, a Python that only imports SQLModel (the ORM the project keeps);
- hashes: ``--photos`` full-size real photos (>= 2 MP) with the models off
  (DUPFINDER_COPY_MODEL=none DUPFINDER_OBJECT_MODEL=none) against ``--method pdq``; then the
  same with only those of the photos that are baseline (not progressive) JPEGs;
- tiers: ``--mixed`` images of the benchmark (whole families of edited copies, plus single
  photos) with the default tiers (SSCD + YOLO) against ``--method sscd``; both outputs are
  scored with ``score.py`` against the benchmark's truth, restricted to those images;
- backup: the same images and a byte copy of each in a second folder (a folder and its
  backup, the commonest duplicates there are), default tiers against ``--method sscd``,
  scored against that truth with each copy added where its original is.

Scans with images use a new data folder each run (a second scan of a folder is free: it
remembers). Both tools run with compiled bytecode in a private cache (PYTHONPYCACHEPREFIX), as
an installed package would; the first run of each is a warm-up, not counted. Results go to
bench/RESULTS.md (section "Speed vs immaculate") and bench/results.json ("speed").
The benchmark images are built by ``bench/run_benchmark.py`` (the same cache folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
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
SECTION = "speed-vs-immaculate"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
FULL_SIZE_MP = 2.0
MODELS_OFF = {"DUPFINDER_COPY_MODEL": "none", "DUPFINDER_OBJECT_MODEL": "none"}
TIERS = ("exact", "near", "similar")

Image.MAX_IMAGE_PIXELS = None


def log(msg: str) -> None:
    print(f"[speed] {msg}", file=sys.stderr, flush=True)


@dataclass
class Run:
    wall: float
    cpu: float  # user + system, children included
    peak_mib: float
    output: str = ""


@dataclass
class Side:
    label: str
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> Run:
    """One whole process under /usr/bin/time: wall, CPU (user+sys), maximum resident set."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        done = subprocess.run(
            ["/usr/bin/time", "-o", report.name, "-f", "%e %U %S %M", *argv],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode not in (0, 1):  # dupfinder says 1 when some files stay unanalysed
            raise RuntimeError(f"{argv[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
        wall, user, system, rss_kib = report.read().split()[-4:]
    return Run(float(wall), float(user) + float(system), int(rss_kib) / 1024, done.stdout)


def environment(pycache: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUPFINDER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, as an installed package is
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra or {})
    return env


def dupfinder(data_dir: Path, folder: Path, tree: Path | None = None) -> list[str]:
    """The installed command, or ``tree``'s code (an older commit) run by the same Python."""
    exe = [str(Path(sys.executable).with_name("dupfinder"))]
    if tree is not None:
        exe = [sys.executable, "-c", BEFORE.format(tree=str(tree))]
    return [*exe, "--data-dir", str(data_dir), "scan", str(folder), "--json", "-q"]


# An older commit's code: its folder first on the path, then its own entry point: `run` (the
# installed command's, which freezes the heap before exit) where it has one, else `main`.
BEFORE = (
    "import sys; sys.path.insert(0, {tree!r}); import backend.cli as cli; "
    "cli.run() if hasattr(cli, 'run') else sys.exit(cli.main())"
)


STACK_FLOOR = [sys.executable, "-c", "import gc, sqlmodel; gc.freeze()"]  # exit as ours does


def immaculate(folder: Path, method: str) -> list[str]:
    return [sys.executable, "-m", "immaculate", "--json", "--method", method, str(folder)]


def side_by_side(
    sides: Sequence[tuple[str, Any]], rounds: int, work: Path
) -> tuple[list[Side], float, float]:
    """``rounds`` counted runs of each side, the order turning each round (after one warm-up
    run of each). Each side is (label, make) where ``make(round)`` returns argv and env.
    Returns the sides and the load average before and after."""
    results = [Side(label) for label, _ in sides]
    load_before = os.getloadavg()[0]
    for r in range(-1, rounds):
        order = list(range(len(sides)))
        if r % 2:
            order.reverse()
        for i in order:
            argv, env = sides[i][1](r)
            run = timed(argv, env, work)
            if r >= 0:
                results[i].runs.append(run)
            log(f"round {r}: {sides[i][0]}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU")
    return results, load_before, os.getloadavg()[0]


# --------------------------------------------------------------------------- folders


def full_size_folder(originals: Path, dest: Path, count: int) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    chosen = 0
    for path in sorted(originals.iterdir()):
        if chosen == count:
            break
        try:
            with Image.open(path) as im:
                megapixels = im.width * im.height / 1e6
        except OSError:
            continue
        if megapixels >= FULL_SIZE_MP:
            shutil.copy2(path, dest / path.name)
            chosen += 1
    return chosen


def baseline_only(folder: Path, dest: Path) -> Path:
    """The pictures of ``folder`` that are not progressive JPEGs."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        with Image.open(path) as im:
            if not im.info.get("progressive"):
                shutil.copy2(path, dest / path.name)
    return dest


def mixed_folder(bench: Path, dest: Path, count: int, seed: int) -> Path:
    """About ``count`` benchmark images: whole similar-tier families (so every truth group is
    complete) and single photos, with the truth restricted to them."""
    truth = json.loads((bench / "truth.json").read_text())
    families = [list(g) for g in truth["similar"]]
    in_family = {n for g in families for n in g}
    singles = [[n] for n in sorted(truth["images"]) if n not in in_family]
    rng = random.Random(seed)
    rng.shuffle(families)
    rng.shuffle(singles)
    chosen: set[str] = set()
    for group in families[: len(families) * 3 // 4] + singles:
        if len(chosen) + len(group) > count:
            continue
        chosen.update(group)
    for group in families[len(families) * 3 // 4 :]:
        if len(chosen) + len(group) <= count:
            chosen.update(group)
    images = dest / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name in sorted(chosen):
        shutil.copy2(bench / "images" / name, images / name)
    sub: dict[str, Any] = {
        tier: [[n for n in g if n in chosen] for g in truth[tier]] for tier in TIERS
    }
    sub = {tier: [g for g in groups if len(g) > 1] for tier, groups in sub.items()}
    sub["images"] = {n: truth["images"][n] for n in chosen}
    (dest / "truth.json").write_text(json.dumps(sub))
    return images


def with_backup(images: Path, truth: Path, dest: Path) -> tuple[Path, Path]:
    """``images`` and a byte copy of each beside them (a folder and its backup: the commonest
    duplicates there are), each copy named "Copy of NAME"; the truth gains each copy wherever
    its original is, and an exact pair of the two."""
    folder = dest / "images"
    shutil.copytree(images, folder / "photos")
    (folder / "backup").mkdir()
    for path in sorted((folder / "photos").iterdir()):
        shutil.copy2(path, folder / "backup" / f"Copy of {path.name}")
    old = json.loads(truth.read_text())
    copy = {name: f"Copy of {name}" for name in old["images"]}
    new: dict[str, Any] = {tier: [g + [copy[n] for n in g] for g in old[tier]] for tier in TIERS}
    new["exact"] += [[n, copy[n]] for n in old["images"]]
    new["images"] = {**old["images"], **{copy[n]: v for n, v in old["images"].items()}}
    (dest / "truth.json").write_text(json.dumps(new))
    return folder, dest / "truth.json"


def score(shared: Path, truth: Path, predicted: dict[str, Any], work: Path) -> dict[str, Any]:
    pred = work / "predicted.json"
    pred.write_text(json.dumps({t: predicted.get(t, []) for t in TIERS}))
    out = subprocess.run(
        [sys.executable, str(shared / "score.py"), str(truth), str(pred), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


# --------------------------------------------------------------------------- comparisons


def compare_empty(work: Path, pycache: Path, rounds: int, before: Path | None) -> dict[str, Any]:
    empty = work / "empty"
    empty.mkdir()
    kept = work / "kept-state"
    env = environment(pycache)

    def fresh(r: int) -> tuple[list[str], dict[str, str]]:
        return dupfinder(work / f"fresh-state-{r + 1}", empty), env

    sides = [
        ("dupfinder scan (database made)", lambda r: (dupfinder(kept, empty), env)),
        ("dupfinder scan (first scan ever)", fresh),
        ("immaculate (pdq)", lambda r: (immaculate(empty, "pdq"), env)),
        # The stack's floor: SQLModel (with SQLAlchemy and pydantic) imported, nothing run.
        ("python -c 'import sqlmodel' (floor)", lambda r: (STACK_FLOOR, env)),
    ]
    if before is not None:
        old = work / "kept-state-before"
        sides.append(
            (
                f"dupfinder scan at {before.name} (database made)",
                lambda r: (dupfinder(old, empty, before), env),
            )
        )
    results, load0, load1 = side_by_side(sides, rounds, work)
    return summarise("empty folder", results, load0, load1, baseline=2)


def compare_hashes(
    work: Path,
    pycache: Path,
    rounds: int,
    folder: Path,
    before: Path | None,
    title: str = "hashes only",
) -> dict[str, Any]:
    env_off = environment(pycache, MODELS_OFF)
    env = environment(pycache)
    tag = folder.name  # a new data folder per run and per folder: a scan remembers
    sides = [
        (
            "dupfinder scan, hashes only",
            lambda r: (dupfinder(work / f"hash-state-{tag}-{r + 1}", folder), env_off),
        ),
        ("immaculate --method pdq", lambda r: (immaculate(folder, "pdq"), env)),
    ]
    if before is not None:
        sides.append(
            (
                f"dupfinder scan at {before.name}, hashes only",
                lambda r: (
                    dupfinder(work / f"hash-before-{tag}-{r + 1}", folder, before),
                    env_off,
                ),
            )
        )
    results, load0, load1 = side_by_side(sides, rounds, work)
    return summarise(title, results, load0, load1, baseline=1)


def compare_tiers(
    work: Path,
    pycache: Path,
    rounds: int,
    folder: Path,
    truth: Path,
    shared: Path,
    before: Path | None = None,
    title: str = "default tiers",
) -> dict[str, Any]:
    env = environment(pycache)
    tag = folder.name  # a new data folder per run and per folder: a scan remembers
    sides = [
        (
            "dupfinder scan, default tiers",
            lambda r: (dupfinder(work / f"tier-state-{tag}-{r + 1}", folder), env),
        ),
        ("immaculate --method sscd", lambda r: (immaculate(folder, "sscd"), env)),
    ]
    if before is not None:
        sides.append(
            (
                f"dupfinder scan at {before.name}, default tiers",
                lambda r: (dupfinder(work / f"tier-before-{tag}-{r + 1}", folder, before), env),
            )
        )
    results, load0, load1 = side_by_side(sides, rounds, work)
    out = summarise(title, results, load0, load1, baseline=1)
    out["quality"] = {
        "dupfinder": score(shared, truth, json.loads(results[0].runs[-1].output), work),
        "immaculate": score(shared, truth, json.loads(results[1].runs[-1].output), work),
    }
    if before is not None:
        out["quality"][f"dupfinder at {before.name}"] = score(
            shared, truth, json.loads(results[2].runs[-1].output), work
        )
    return out


def summarise(
    name: str, sides: list[Side], load_before: float, load_after: float, baseline: int
) -> dict[str, Any]:
    base = sides[baseline]
    return {
        "name": name,
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "sides": [
            {
                "label": s.label,
                "runs": len(s.runs),
                "wall_s": round(s.median("wall"), 3),
                "cpu_s": round(s.median("cpu"), 3),
                "peak_mib": round(s.median("peak_mib"), 1),
                "wall_ratio": round(s.median("wall") / base.median("wall"), 2),
                "cpu_ratio": round(s.median("cpu") / base.median("cpu"), 2),
                "all_wall_s": [round(r.wall, 2) for r in s.runs],
            }
            for s in sides
        ],
    }


# --------------------------------------------------------------------------- report


def render(result: dict[str, Any], markdown: bool) -> str:
    table = md_table if markdown else text_table
    parts = []
    for comp in result["comparisons"]:
        rows = [
            [
                s["label"],
                f"{s['wall_s']:.2f}",
                f"{s['cpu_s']:.2f}",
                f"{s['peak_mib']:.0f}",
                f"{s['wall_ratio']:.2f}x",
                f"{s['cpu_ratio']:.2f}x",
                " ".join(f"{w:.2f}" for w in s["all_wall_s"]),
            ]
            for s in comp["sides"]
        ]
        load = comp["load_average"]
        title = f"{comp['name']} ({comp.get('detail', '')}; load average {load[0]} -> {load[1]})"
        header = ["", "wall s", "CPU s", "peak MiB", "wall ratio", "CPU ratio", "each run (wall)"]
        parts.append(("### " if markdown else "") + title + "\n\n" + table(header, rows))
        if "quality" in comp:
            q_rows = []
            for who, s in comp["quality"].items():
                for tier in ("exact", "near", "similar"):
                    if tier in s:
                        t = s[tier]
                        q_rows.append(
                            [who, tier, f"{t['precision']:.3f}", f"{t['recall']:.3f}"]
                            + [f"{t['f1']:.3f}"]
                        )
            parts.append(table(["", "tier", "precision", "recall", "F1"], q_rows))
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache", help="build folder")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="shared folder")
    ap.add_argument("--seed", type=int, default=1, help="benchmark seed (make_benchmark.py)")
    ap.add_argument("--rounds", type=int, default=5, help="counted runs of each side")
    ap.add_argument("--photos", type=int, default=32, help="full-size photos (hashes)")
    ap.add_argument("--mixed", type=int, default=150, help="benchmark images (tiers)")
    ap.add_argument("--only", default="empty,hashes,tiers,backup", help="comparisons to run")
    ap.add_argument("--before", default="", help="also run this commit's code (git worktree)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args()
    only = set(args.only.split(","))
    cache = args.cache.resolve()
    originals, bench = cache / "originals", cache / f"bench-seed{args.seed}"
    shared = (args.shared / "bench").resolve()
    if not (bench / "truth.json").exists():
        sys.exit(f"no benchmark at {bench}: run bench/run_benchmark.py first (it builds it)")
    comparisons = []
    with tempfile.TemporaryDirectory(prefix="dupfinder-speed-") as tmp:
        work = Path(tmp)
        pycache = work / "pycache"
        before = None
        if args.before:
            before = work / args.before
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
                check=True,
                capture_output=True,
            )
        if "empty" in only:
            comp = compare_empty(work, pycache, args.rounds, before)
            comp["detail"] = "no files"
            comparisons.append(comp)
        if "hashes" in only:
            folder = work / "full-size"
            n = full_size_folder(originals, folder, args.photos)
            comp = compare_hashes(work, pycache, args.rounds, folder, before)
            comp["detail"] = f"{n} real photos of {FULL_SIZE_MP:g} MP or more"
            comparisons.append(comp)
            # The same without the progressive JPEGs (which our decode reads faster: core/
            # jpeg_dc.py): most cameras write baseline JPEGs.
            baseline = baseline_only(folder, work / "full-size-baseline")
            comp = compare_hashes(
                work, pycache, args.rounds, baseline, before, "hashes only, baseline JPEGs"
            )
            comp["detail"] = (
                f"the {len(list(baseline.iterdir()))} of those photos that are baseline JPEGs"
            )
            comparisons.append(comp)
        if "tiers" in only:
            images = mixed_folder(bench, work / "mixed", args.mixed, args.seed)
            comp = compare_tiers(
                work, pycache, args.rounds, images, work / "mixed" / "truth.json", shared, before
            )
            comp["detail"] = f"{len(list(images.iterdir()))} benchmark images, seed {args.seed}"
            comparisons.append(comp)
        if "backup" in only:
            images = mixed_folder(bench, work / "mixed-for-backup", args.mixed, args.seed)
            folder, truth = with_backup(
                images, work / "mixed-for-backup" / "truth.json", work / "backup"
            )
            comp = compare_tiers(
                work, pycache, args.rounds, folder, truth, shared, before, "a folder and its backup"
            )
            count = len(list(images.iterdir()))
            comp["detail"] = (
                f"the {count} benchmark images of 'default tiers' and a byte copy of each"
            )
            comparisons.append(comp)
        if before is not None:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
                check=True,
                capture_output=True,
            )
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(REPO),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "rounds": args.rounds,
        "command": " ".join(["python", "bench/speed_benchmark.py", *sys.argv[1:]]),
        "comparisons": comparisons,
    }
    print(render(result, markdown=False))
    if args.no_write:
        return
    section = "\n".join(
        [
            MARK_START,
            "## Speed vs immaculate",
            "",
            f"`{result['command']}` on {result['date']} (commit {result['commit']}, "
            f"{result['cpu']}, {result['cores']} cores shared with other agents' work: "
            "see each table's load average). Whole processes under `/usr/bin/time`, "
            f"{args.rounds} counted runs of each side after a warm-up, alternating order; "
            "medians. Ratios are against the immaculate row of the same table.",
            "",
            render(result, markdown=True),
            MARK_END,
        ]
    )
    update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, section)
    update_results_json(BENCH_DIR / "results.json", "speed", result)


if __name__ == "__main__":
    main()
