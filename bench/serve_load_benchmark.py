#!/usr/bin/env python3
"""`dupfinder serve` under concurrent clients: read and upload latency while analysis runs.

usage: python bench/serve_load_benchmark.py [--config NAME:KEY=VAL[,KEY=VAL...]]... [--rounds N]
           [--clients N] [--seconds S] [--people N] [--seed-photos N] [--models] [--no-write]

The issue's targets: under 50 concurrent clients on loopback, mixed uploads and reads, the
reads' p99 stays at or under 100 ms while analysis runs, and uploads are accepted (202) within
300 ms at p99 -- heavy work kept out of the API's process and its GIL.

Each ``--config`` is a name and the environment variables its server gets (the default
compares requests answered in serve's own process, ``one-api:DUPFINDER_API_PROCESSES=1``, with
two API processes, ``two-api:DUPFINDER_API_PROCESSES=2``; analysis in child processes for
both); the values are passed through as they
are. Each round runs every config once, in alternating order (A B, B A, ...), one server at a
time; each run is a whole ``dupfinder serve`` process (the installed command) on a free
loopback port with a new data folder, started in its own process group:

1. seed: ``--people`` people register and sign in; each uploads ``--seed-photos`` real photos
   (distinct photos plus pixel-identical and re-encoded copies of some, so there are groups
   to read), and the run waits until every one is ready or failed (GET /api/v1/images);
2. load, ``--seconds`` long: ``--clients`` concurrent clients (asyncio + httpx) spread over
   the people. ``--uploaders`` of them (a fraction) upload batches of 4-8 JPEGs, each a new
   file (a re-encoded, slightly cropped real photo with a unique JPEG comment, so its content
   hash is new and it is analysed), pausing about ``--upload-think`` seconds between batches;
   the others read, pausing about ``--read-think`` seconds between requests: duplicate groups
   (tiers exact/near/similar, pages), image pages, group counts per tier, thumbnails. Each
   request has a timeout (``--read-timeout``, ``--upload-timeout``); non-2xx answers and
   failures count as errors and keep their time in the percentiles (a timeout: the timeout).
   Once a second the run samples the analysis backlog (images not yet ready or failed, read
   from the server's SQLite database, read-only) and the serve process tree in /proc (CPU,
   VmHWM of the serve process and its children, reset at the start of the load).

Reported per config, medians over the rounds that ran: requests, errors, p50/p95/p99 of all
reads together, of each read endpoint, and of uploads (until the 202); images uploaded during
the load and how many of them were analysed by its end; the backlog (so "while analysis runs"
is shown, not assumed); the serve tree's CPU seconds and peak RSS (sum over the processes; the
children of a forking server share pages, so the sum overstates); a ratio line of read p99
against the first config. The clients run in this one Python process on the same machine:
their own CPU and the event loop's lag are reported beside the figures. A config whose server
does not start is reported as such and the others go on.

Models are off (DUPFINDER_COPY_MODEL, DUPFINDER_OBJECT_MODEL, DUPFINDER_CLIP_MODEL = none)
unless ``--models`` (the defaults: SSCD and YOLO). The photos are the benchmark's real photos
in ``<cache>/originals``, collected by ``photos.sh`` as ``bench/run_benchmark.py`` does (built
here if missing). Results go to bench/RESULTS.md (section ``serve-load``, or
``serve-load-models`` with ``--models``) and bench/results.json (the same key) unless
``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import math
import os
import random
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from results_file import (  # bench/, beside this
    cpu_name,
    git_commit,
    md_table,
    text_table,
    update_results_json,
    update_results_md,
)
from run_benchmark import dupfinder_command  # bench/, beside this

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
SECTION = "serve-load"
DEFAULT_CONFIGS = (
    "one-api:DUPFINDER_API_PROCESSES=1,DUPFINDER_EMBEDDED_ANALYSIS=processes",
    "two-api:DUPFINDER_API_PROCESSES=2,DUPFINDER_EMBEDDED_ANALYSIS=processes",
)
MODELS_OFF = {
    "DUPFINDER_COPY_MODEL": "none",
    "DUPFINDER_OBJECT_MODEL": "none",
    "DUPFINDER_CLIP_MODEL": "none",
}
READ_P99_TARGET_MS = 100.0
UPLOAD_P99_TARGET_MS = 300.0
PASSWORD = "correct horse battery staple"
DONE = ("ready", "failed")
TIERS = ("exact", "near", "similar")
# What a reading client asks for, and how often (weights).
READS = {"groups": 3, "images": 2, "counts": 1, "thumbnail": 3}
GROUPS_PAGE = 20
IMAGES_PAGE = 50
CLK_TCK = os.sysconf("SC_CLK_TCK")

Image.MAX_IMAGE_PIXELS = None

JsonDict = dict[str, Any]


def log(msg: str) -> None:
    print(f"[serve-load] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class Config:
    name: str
    env: dict[str, str]

    @property
    def spec(self) -> str:
        return f"{self.name}:" + ",".join(f"{k}={v}" for k, v in self.env.items())


def parse_config(text: str) -> Config:
    """``NAME:KEY=VAL[,KEY=VAL...]`` (``NAME:`` alone: no extra variables)."""
    name, sep, rest = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:KEY=VAL[,KEY=VAL...]")
    env: dict[str, str] = {}
    for pair in filter(None, rest.split(",")):
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise argparse.ArgumentTypeError(f"{text!r}: {pair!r} is not KEY=VAL")
        env[key.strip()] = value
    return Config(name, env)


# --------------------------------------------------------------------------- photos


def ensure_originals(shared: Path, cache: Path) -> Path:
    """The real photos of ``bench/run_benchmark.py`` (its first step: ``photos.sh``)."""
    originals = cache / "originals"
    done = cache / "originals.done"
    if done.exists() and originals.is_dir() and any(originals.iterdir()):
        return originals
    log(f"photos: collecting into {originals} (photos.sh, apt-get download)")
    shutil.rmtree(originals, ignore_errors=True)
    subprocess.run(
        ["bash", str(shared / "photos.sh"), str(originals), str(cache / "debs")],
        check=True,
        stdout=sys.stderr,
    )
    done.write_text(dt.datetime.now().isoformat() + "\n")
    return originals


def read_photos(originals: Path) -> list[tuple[str, bytes]]:
    """Every JPEG of the folder that Pillow opens, by name."""
    photos = []
    for path in sorted(originals.iterdir()):
        data = path.read_bytes()
        if not data.startswith(b"\xff\xd8"):
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                _ = im.size  # the header parses
        except (OSError, ValueError):
            continue
        photos.append((path.name, data))
    return photos


def reencode(data: bytes, rng: random.Random) -> bytes:
    """Another file of the same photo: cropped by 0.5-4 % and saved at another quality."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    keep = rng.uniform(0.96, 0.995)
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = io.BytesIO()
    rgb.crop((x, y, x + cw, y + ch)).save(out, "JPEG", quality=rng.randint(70, 95))
    return out.getvalue()


def with_comment(jpeg: bytes, note: str) -> bytes:
    """The same pixels in a new file: a JPEG comment (COM segment) right after SOI."""
    payload = note.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


@dataclass
class PhotoSet:
    seeds: list[list[tuple[str, bytes]]]  # per person
    pool: list[bytes]  # re-encoded photos for the load's uploads (each sent with a new comment)


def prepare_photos(
    photos: list[tuple[str, bytes]], people: int, per_person: int, pool_size: int
) -> PhotoSet:
    """Per person: distinct photos, plus a pixel-identical copy (exact tier) and a re-encoded
    copy (near tier) of some of them; and the pool of variants the load uploads."""
    rng = random.Random(20240)
    copies = max(1, per_person // 8)
    distinct = max(1, per_person - 2 * copies)
    seeds: list[list[tuple[str, bytes]]] = []
    for p in range(people):
        chosen = [photos[(p * distinct + k) % len(photos)] for k in range(distinct)]
        files = [(f"p{p}-{k:03d}-{name}", data) for k, (name, data) in enumerate(chosen)]
        for k, (name, data) in enumerate(chosen[:copies]):
            files.append((f"p{p}-copy{k}-{name}", with_comment(data, f"copy {p} {k}")))
        for k, (name, data) in enumerate(chosen[copies : 2 * copies]):
            files.append((f"p{p}-edit{k}-{name}", reencode(data, rng)))
        seeds.append(files[:per_person])
    order = list(range(len(photos)))
    rng.shuffle(order)
    pool = [reencode(photos[order[i % len(order)]][1], rng) for i in range(pool_size)]
    return PhotoSet(seeds, pool)


# --------------------------------------------------------------------------- the server


class StartFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(work: Path, models: bool, config: Config) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUPFINDER_")}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):  # embedded mode, SQLite in the data dir
        env.pop(name, None)
    env.update(
        {
            "DUPFINDER_DATA_DIR": str(work / "data"),
            "DUPFINDER_SECRET_KEY": secrets.token_urlsafe(48),
            "TMPDIR": str(work / "tmp"),
        }
    )
    if not models:
        env.update(MODELS_OFF)
    env.update(config.env)
    return env


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    url: str
    work: Path
    log_path: Path
    started_s: float

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    @property
    def database(self) -> Path:
        return self.work / "data" / "dupfinder.sqlite3"


@contextmanager
def serve(work: Path, models: bool, config: Config, start_timeout: float) -> Iterator[Serve]:
    """``dupfinder serve`` in its own session (so the whole tree can be ended), answering
    /health; its output in ``work/serve.log``. Raises StartFailed with the log's tail."""
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = work / "serve.log"
    started = time.monotonic()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [dupfinder_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(work, models, config),
            cwd=work,  # no .env of the checkout
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Serve(proc, f"http://127.0.0.1:{port}", work, log_path, 0.0)
    try:
        deadline = started + start_timeout
        while True:
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise StartFailed(
                    f"dupfinder serve exited with code {proc.returncode} before answering "
                    f"/health:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise StartFailed(
                    f"dupfinder serve did not answer /health within {start_timeout:.0f} s:\n"
                    f"{server.log_tail()}"
                )
            time.sleep(0.25)
        server.started_s = time.monotonic() - started
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server, then SIGKILL to its process group (its children too)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("serve did not stop within 30 s of SIGTERM: killing its process group")
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group is its pid
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


# --------------------------------------------------------------------------- /proc


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, own CPU ticks, reaped children's CPU ticks) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    # after "pid (comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17)
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(root: int) -> list[int]:
    """The process and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                parents.setdefault(st[0], []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


@dataclass
class TreeMeter:
    """CPU and peak RSS of a process tree over an interval, sampled."""

    root: int
    first: dict[int, int] = field(default_factory=dict)  # pid: CPU ticks when first seen
    last: dict[int, int] = field(default_factory=dict)
    peak_kib: dict[int, int] = field(default_factory=dict)
    root_children_start: int = 0
    root_children_end: int = 0
    most_processes: int = 0

    def start(self) -> None:
        for pid in tree_pids(self.root):
            try:  # the peak since now: VmHWM reset (owner only; ignored elsewhere)
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
        st = _stat(self.root)
        self.root_children_start = self.root_children_end = st[2] if st else 0
        self.sample(initial=True)

    def sample(self, initial: bool = False) -> None:
        pids = tree_pids(self.root)
        self.most_processes = max(self.most_processes, len(pids))
        for pid in pids:
            st = _stat(pid)
            if st is None:
                continue
            if pid not in self.first:
                self.first[pid] = st[1] if initial else 0  # born during the interval
            self.last[pid] = st[1]
            if pid == self.root:
                self.root_children_end = st[2]
            self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), _hwm_kib(pid))

    def cpu_seconds(self) -> float:
        ticks = sum(self.last[p] - self.first[p] for p in self.last)
        # Children that ended and were reaped meanwhile: the root's reaped-children CPU grew
        # by their whole lives, of which the samples have seen ``last`` already.
        live = set(tree_pids(self.root))
        gone = sum(self.last[p] for p in self.last if p not in live and p != self.root)
        ticks += max(0, self.root_children_end - self.root_children_start - gone)
        return ticks / CLK_TCK

    def peak_mib(self) -> float:
        return sum(self.peak_kib.values()) / 1024


# --------------------------------------------------------------------------- database


def backlog(database: Path, since_id: int) -> tuple[int, int, int] | None:
    """(images not yet ready or failed, images with id > since_id, of which done), read-only
    from the server's SQLite database; None where it cannot be read."""
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        marks = ",".join("?" * len(DONE))
        (unfinished,) = db.execute(
            f"SELECT COUNT(*) FROM image WHERE state NOT IN ({marks})", DONE
        ).fetchone()
        new, new_done = db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(state IN ({marks})), 0) FROM image WHERE id > ?",
            (*DONE, since_id),
        ).fetchone()
        return int(unfinished), int(new), int(new_done)
    except sqlite3.Error:
        return None
    finally:
        db.close()


def max_image_id(database: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2)
        try:
            (top,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM image").fetchone()
        finally:
            db.close()
        return int(top)
    except sqlite3.Error:
        return 0


# --------------------------------------------------------------------------- clients


@dataclass
class Person:
    email: str
    headers: dict[str, str] = field(default_factory=dict)
    thumbs: list[int] = field(default_factory=list)  # ids of ready images
    images: int = 0
    groups: dict[str, int] = field(default_factory=dict)  # open groups per tier


@dataclass
class Record:
    """Every request's time by kind, and the errors."""

    times: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    rejected: int = 0

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        self.times.setdefault(kind, []).append(seconds)
        if error is not None:
            self.errors[f"{kind}: {error}"] += 1


async def timed(
    record: Record, kind: str, send: Callable[[], Awaitable[httpx.Response]], limit: float
) -> httpx.Response | None:
    """The response when 2xx; otherwise the error is counted (a timeout at its limit)."""
    started = time.perf_counter()
    try:
        response = await send()
    except httpx.TimeoutException:
        record.add(kind, max(limit, time.perf_counter() - started), "timeout")
        return None
    except httpx.HTTPError as exc:
        record.add(kind, time.perf_counter() - started, type(exc).__name__)
        return None
    seconds = time.perf_counter() - started
    if 200 <= response.status_code < 300:
        record.add(kind, seconds, None)
        return response
    record.add(kind, seconds, str(response.status_code))
    return None


async def sign_in(client: httpx.AsyncClient, person: Person) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": person.email, "password": PASSWORD}
    )
    response.raise_for_status()
    person.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}


async def register(client: httpx.AsyncClient, email: str) -> Person:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    if response.status_code != 202:
        raise RuntimeError(f"register {email}: {response.status_code} {response.text[:300]}")
    person = Person(email)
    await sign_in(client, person)
    return person


def multipart(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "image/jpeg")) for name, data in files]


async def all_images(client: httpx.AsyncClient, person: Person) -> list[JsonDict]:
    response = await client.get(
        "/api/v1/images", params={"size": 500}, headers=person.headers, timeout=60
    )
    response.raise_for_status()
    items: list[JsonDict] = response.json()["items"]
    return items


async def seed(
    client: httpx.AsyncClient, people: list[Person], photos: PhotoSet, timeout: float
) -> JsonDict:
    """Each person's photos uploaded, then waited on until every one is ready or failed."""
    started = time.monotonic()
    accepted = rejected = 0
    for person, files in zip(people, photos.seeds, strict=True):
        response = await client.post(
            "/api/v1/images/upload", files=multipart(files), headers=person.headers, timeout=300
        )
        if response.status_code != 202:
            raise RuntimeError(f"seed upload: {response.status_code} {response.text[:300]}")
        body = response.json()
        accepted += len(body["images"])
        rejected += len(body["rejected"])
    states: Counter[str] = Counter()
    while True:
        states.clear()
        for person in people:
            items = await all_images(client, person)
            states.update(i["status"] for i in items)
            person.images = len(items)
            person.thumbs = [i["id"] for i in items if i["status"] == "ready"]
        if all(s in DONE for s in states):
            break
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"seed photos not analysed within {timeout:.0f} s: {states}")
        await asyncio.sleep(1.0)
    groups: Counter[str] = Counter()
    for person in people:
        response = await client.get("/api/v1/duplicates/groups/counts", headers=person.headers)
        response.raise_for_status()
        person.groups = {t: int(response.json().get(t, 0)) for t in TIERS}
        groups.update(person.groups)
    return {
        "people": len(people),
        "accepted": accepted,
        "rejected": rejected,
        "states": dict(states),
        "groups": {t: groups[t] for t in TIERS},
        "seconds": round(time.monotonic() - started, 1),
    }


@dataclass
class Load:
    deadline: float
    read_think: float
    upload_think: float
    read_timeout: float
    upload_timeout: float
    pool: list[bytes]
    record: Record = field(default_factory=Record)
    sent: int = 0  # files uploaded, for unique names and comments


async def reader(client: httpx.AsyncClient, person: Person, load: Load, rng: random.Random) -> None:
    kinds = [k for k in READS if person.thumbs or k != "thumbnail"]
    weights = [READS[k] for k in kinds]
    await asyncio.sleep(rng.uniform(0, load.read_think))
    while time.monotonic() < load.deadline:
        kind = rng.choices(kinds, weights)[0]
        params: dict[str, str | int] = {}
        if kind == "groups":
            tier = rng.choice(TIERS)
            pages = max(1, math.ceil(person.groups.get(tier, 0) / GROUPS_PAGE))
            url = "/api/v1/duplicates/groups"
            params = {"tier": tier, "page": rng.randint(1, pages), "size": GROUPS_PAGE}
        elif kind == "images":
            pages = max(1, math.ceil(person.images / IMAGES_PAGE))
            url, params = "/api/v1/images", {"page": rng.randint(1, pages), "size": IMAGES_PAGE}
        elif kind == "counts":
            url = "/api/v1/duplicates/groups/counts"
        else:
            url = f"/api/v1/images/{rng.choice(person.thumbs)}/thumbnail"

        def send(
            url: str = url, params: dict[str, str | int] = params
        ) -> Awaitable[httpx.Response]:
            return client.get(url, params=params, headers=person.headers, timeout=load.read_timeout)

        response = await timed(load.record, kind, send, load.read_timeout)
        if response is not None and kind == "counts":
            person.groups = {t: int(response.json().get(t, 0)) for t in TIERS}
        await asyncio.sleep(load.read_think * rng.uniform(0.5, 1.5))


async def uploader(
    client: httpx.AsyncClient, person: Person, load: Load, rng: random.Random
) -> None:
    await asyncio.sleep(rng.uniform(0, load.upload_think))
    while time.monotonic() < load.deadline:
        files = []
        for _ in range(rng.randint(4, 8)):
            load.sent += 1
            note = f"load {load.sent} {rng.getrandbits(64):016x}"
            files.append((f"load-{load.sent:06d}.jpg", with_comment(rng.choice(load.pool), note)))
        parts = multipart(files)

        def send(parts: Any = parts) -> Awaitable[httpx.Response]:
            return client.post(
                "/api/v1/images/upload",
                files=parts,
                headers=person.headers,
                timeout=load.upload_timeout,
            )

        response = await timed(load.record, "upload", send, load.upload_timeout)
        if response is not None:
            body = response.json()
            load.record.accepted += len(body["images"])
            load.record.rejected += len(body["rejected"])
            person.images += len(body["images"])
        await asyncio.sleep(load.upload_think * rng.uniform(0.5, 1.5))


def uploader_count(clients: int, fraction: float) -> int:
    return 0 if clients < 2 or fraction <= 0 else max(1, round(clients * fraction))


async def loop_lag(stop_at: list[bool], lags: list[float]) -> None:
    """How late the event loop wakes (0.05 s naps): the clients' own saturation."""
    while not stop_at:
        before = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(max(0.0, time.perf_counter() - before - 0.05))


async def drive(server: Serve, args: argparse.Namespace, photos: PhotoSet) -> JsonDict:
    """Seed, then the load; the run's figures."""
    limits = httpx.Limits(max_connections=args.clients + 20, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
        people = [await register(client, f"load{p}@example.com") for p in range(args.people)]
        log(f"seeding {sum(len(s) for s in photos.seeds)} photos for {len(people)} people")
        seeded = await seed(client, people, photos, args.seed_timeout)
        log(f"seeded in {seeded['seconds']} s: {seeded['states']}, groups {seeded['groups']}")
        for person in people:  # a fresh access token (they last 15 minutes by default)
            await sign_in(client, person)
        since = max_image_id(server.database)
        meter = TreeMeter(server.proc.pid)
        await asyncio.to_thread(meter.start)
        rusage0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        load = Load(
            deadline=started + args.seconds,
            read_think=args.read_think,
            upload_think=args.upload_think,
            read_timeout=args.read_timeout,
            upload_timeout=args.upload_timeout,
            pool=photos.pool,
        )
        uploaders = uploader_count(args.clients, args.uploaders)
        rng = random.Random(7)
        clients = [
            (uploader if i < uploaders else reader)(
                client, people[i % len(people)], load, random.Random(rng.getrandbits(32))
            )
            for i in range(args.clients)
        ]
        samples: list[int] = []
        done: list[bool] = []
        lags: list[float] = []

        async def sampler() -> None:
            while not done:
                await asyncio.to_thread(meter.sample)
                found = await asyncio.to_thread(backlog, server.database, since)
                if found is not None:
                    samples.append(found[0])
                await asyncio.sleep(1.0)

        watchers = [asyncio.create_task(sampler()), asyncio.create_task(loop_lag(done, lags))]
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started
        done.append(True)
        await asyncio.gather(*watchers)
        await asyncio.to_thread(meter.sample)
        end = await asyncio.to_thread(backlog, server.database, since)
        rusage1 = resource.getrusage(resource.RUSAGE_SELF)
    record = load.record
    reads = [t for kind in READS for t in record.times.get(kind, [])]
    uploads = record.times.get("upload", [])
    requests = sum(len(v) for v in record.times.values())
    client_cpu = (rusage1.ru_utime + rusage1.ru_stime) - (rusage0.ru_utime + rusage0.ru_stime)
    cpu = meter.cpu_seconds()
    return {
        "start_s": round(server.started_s, 1),
        "seed": seeded,
        "uploaders": uploaders,
        "readers": args.clients - uploaders,
        "load_s": round(elapsed, 1),
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "errors": sum(record.errors.values()),
        "error_kinds": dict(record.errors),
        "reads": stats(reads, sum(n for k, n in record.errors.items() if k.split(":")[0] in READS)),
        "per_read": {
            kind: stats(
                record.times.get(kind, []),
                sum(n for k, n in record.errors.items() if k.split(":")[0] == kind),
            )
            for kind in READS
        },
        "upload": stats(
            uploads, sum(n for k, n in record.errors.items() if k.startswith("upload:"))
        ),
        "files_accepted": record.accepted,
        "files_rejected": record.rejected,
        "uploaded": end[1] if end else record.accepted,
        "analysed_by_end": end[2] if end else None,
        "backlog": (
            {
                "min": min(samples),
                "median": round(statistics.median(samples)),
                "max": max(samples),
                "at_end": end[0] if end else None,
                "samples": len(samples),
                "busy_samples": sum(1 for s in samples if s > 0),
                "each_second": samples,
            }
            if samples
            else None
        ),
        "cpu_s": round(cpu, 1),
        "cpu_percent": round(100 * cpu / elapsed),
        "peak_rss_mib": round(meter.peak_mib()),
        "processes": meter.most_processes,
        "client_cpu_s": round(client_cpu, 1),
        "loop_lag_p99_ms": round(percentile(lags, 99) * 1000, 1) if lags else None,
        "serve_alive": server.proc.poll() is None,
    }


# --------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float:
    """Linear between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def stats(seconds: Sequence[float], errors: int) -> JsonDict:
    if not seconds:
        return {"n": 0, "errors": errors, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    return {
        "n": len(seconds),
        "errors": errors,
        **{f"p{q}_ms": round(percentile(seconds, q) * 1000, 1) for q in (50, 95, 99)},
    }


def median_of(runs: list[JsonDict], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return statistics.median(values) if values else None


MEDIANS: dict[str, tuple[str, ...]] = {
    "requests": ("requests",),
    "requests_per_s": ("requests_per_s",),
    "errors": ("errors",),
    "read_p50_ms": ("reads", "p50_ms"),
    "read_p95_ms": ("reads", "p95_ms"),
    "read_p99_ms": ("reads", "p99_ms"),
    "upload_p50_ms": ("upload", "p50_ms"),
    "upload_p95_ms": ("upload", "p95_ms"),
    "upload_p99_ms": ("upload", "p99_ms"),
    "uploaded": ("uploaded",),
    "analysed_by_end": ("analysed_by_end",),
    "backlog_min": ("backlog", "min"),
    "backlog_median": ("backlog", "median"),
    "backlog_max": ("backlog", "max"),
    "cpu_s": ("cpu_s",),
    "cpu_percent": ("cpu_percent",),
    "peak_rss_mib": ("peak_rss_mib",),
    "processes": ("processes",),
    "client_cpu_s": ("client_cpu_s",),
    "loop_lag_p99_ms": ("loop_lag_p99_ms",),
    "start_s": ("start_s",),
    "seed_s": ("seed", "seconds"),
}


def summarise(config: Config, runs: list[JsonDict], failures: list[JsonDict]) -> JsonDict:
    med: JsonDict = {name: median_of(runs, *path) for name, path in MEDIANS.items()}
    med["per_read"] = {
        kind: {q: median_of(runs, "per_read", kind, q) for q in ("n", "p50_ms", "p95_ms", "p99_ms")}
        for kind in READS
    }
    med["per_read_errors"] = {kind: median_of(runs, "per_read", kind, "errors") for kind in READS}
    read99, up99 = med["read_p99_ms"], med["upload_p99_ms"]
    return {
        "name": config.name,
        "env": config.env,
        "runs_ok": len(runs),
        "runs_failed": len(failures),
        "median": med,
        "targets": {
            "read_p99": None if read99 is None else read99 <= READ_P99_TARGET_MS,
            "upload_p99": None if up99 is None else up99 <= UPLOAD_P99_TARGET_MS,
        },
        "runs": runs,
        "failures": failures,
    }


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits == 0:
        return f"{value:.0f}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def met(value: bool | None) -> str:
    return "-" if value is None else ("met" if value else "NOT met")


def render(result: JsonDict, markdown: bool) -> str:
    table = md_table if markdown else text_table
    head = "### " if markdown else ""
    configs = [c for c in result["configs"] if c["runs_ok"]]  # those whose server ran
    rows = []
    for c in configs:
        m = c["median"]
        rows.append(
            [
                c["name"],
                f"{c['runs_ok']}/{c['runs_ok'] + c['runs_failed']}",
                fmt(m["requests"]),
                fmt(m["errors"]),
                fmt(m["read_p50_ms"], 1),
                fmt(m["read_p95_ms"], 1),
                fmt(m["read_p99_ms"], 1),
                fmt(m["upload_p50_ms"], 1),
                fmt(m["upload_p95_ms"], 1),
                fmt(m["upload_p99_ms"], 1),
                met(c["targets"]["read_p99"]),
                met(c["targets"]["upload_p99"]),
            ]
        )
    header = ["config", "runs", "requests", "errors", "read p50 ms", "read p95 ms"]
    header += ["read p99 ms", "upload p50 ms", "upload p95 ms", "upload p99 ms"]
    header += [f"read p99 <= {READ_P99_TARGET_MS:g}", f"upload p99 <= {UPLOAD_P99_TARGET_MS:g}"]
    parts = [f"{head}Latency (medians over the runs)\n\n" + table(header, rows)]
    rows = []
    for c in configs:
        m = c["median"]
        rows.append(
            [
                c["name"],
                fmt(m["requests_per_s"], 1),
                fmt(m["uploaded"]),
                fmt(m["analysed_by_end"]),
                f"{fmt(m['backlog_min'])} / {fmt(m['backlog_median'])} / {fmt(m['backlog_max'])}",
                fmt(m["cpu_s"], 1),
                fmt(m["cpu_percent"]),
                fmt(m["peak_rss_mib"]),
                fmt(m["processes"]),
                fmt(m["client_cpu_s"], 1),
                fmt(m["loop_lag_p99_ms"], 1),
            ]
        )
    header = ["config", "req/s", "uploaded", "analysed by end", "backlog min/med/max"]
    header += ["serve CPU s", "CPU %", "peak RSS MiB", "serve procs", "client CPU s"]
    header += ["client loop lag p99 ms"]
    parts.append(f"{head}Load and analysis during it (medians)\n\n" + table(header, rows))
    rows = []
    for c in configs:
        for kind in READS:
            r = c["median"]["per_read"][kind]
            rows.append(
                [
                    c["name"],
                    kind,
                    fmt(r["n"]),
                    fmt(c["median"]["per_read_errors"][kind]),
                    fmt(r["p50_ms"], 1),
                    fmt(r["p95_ms"], 1),
                    fmt(r["p99_ms"], 1),
                ]
            )
    header = ["config", "read", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"]
    parts.append(f"{head}Reads per endpoint (medians)\n\n" + table(header, rows))
    parts.append(ratio_line(configs))
    failed = [(c["name"], f) for c in result["configs"] for f in c["failures"]]
    if failed:
        lines = [f"- {name}, round {f['round']}: {short(f['error'])}" for name, f in failed]
        parts.append("Runs that failed:\n\n" + "\n".join(lines))
    errors = [
        f"{c['name']}: " + ", ".join(f"{k} x{n}" for k, n in sorted(run["error_kinds"].items()))
        for c in configs
        for run in c["runs"]
        if run["error_kinds"]
    ]
    if errors:
        parts.append("Errors by kind (each run):\n\n" + "\n".join(f"- {e}" for e in errors))
    return "\n\n".join(parts)


def short(error: str) -> str:
    """The first line of a failure and the last lines of the server's log after it."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    tail = [line for line in lines[1:] if not line.startswith("For further information")]
    return " ... ".join(lines[:1] + tail[-2:])


def ratio_line(configs: list[JsonDict]) -> str:
    """Read (and upload) p99 of each config against the first config that has figures."""
    if not configs:
        return "Ratios: no config ran."
    base = configs[0]
    cells = []
    for c in configs:
        ratios = []
        for key, what in (("read_p99_ms", "read"), ("upload_p99_ms", "upload")):
            value, ref = c["median"][key], base["median"][key]
            ratios.append(f"{what} {value / ref:.2f}x" if value is not None and ref else "-")
        cells.append(f"{c['name']} " + ", ".join(ratios))
    return f"p99 vs {base['name']}: " + "; ".join(cells)


# --------------------------------------------------------------------------- main


def run_once(config: Config, r: int, args: argparse.Namespace, photos: PhotoSet) -> JsonDict:
    with tempfile.TemporaryDirectory(prefix="dupfinder-serve-load-") as tmp:
        work = Path(tmp)
        try:
            with serve(work, args.models, config, args.start_timeout) as server:
                log(f"round {r}: {config.name}: serve up in {server.started_s:.1f} s")
                result = asyncio.run(drive(server, args, photos))
                if not result["serve_alive"]:
                    log(f"round {r}: {config.name}: serve died:\n{server.log_tail()}")
                return {"round": r, "ok": True, **result}
        except StartFailed as exc:
            return {"round": r, "ok": False, "error": f"serve did not start: {exc}"}
        except (RuntimeError, httpx.HTTPError, OSError) as exc:
            tail = ""
            log_path = work / "serve.log"
            if log_path.exists():
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            return {"round": r, "ok": False, "error": f"{type(exc).__name__}: {exc}\n{tail}"}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--config",
        type=parse_config,
        action="append",
        help="NAME:KEY=VAL[,KEY=VAL...] (repeat; default: one and two API processes)",
    )
    ap.add_argument("--rounds", type=int, default=3, help="runs of each config")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the load")
    ap.add_argument("--uploaders", type=float, default=0.2, help="fraction of uploading clients")
    ap.add_argument("--read-think", type=float, default=0.5, help="mean s between reads")
    ap.add_argument("--upload-think", type=float, default=1.0, help="mean s between batches")
    ap.add_argument("--read-timeout", type=float, default=10.0, help="s per read")
    ap.add_argument("--upload-timeout", type=float, default=60.0, help="s per upload")
    ap.add_argument("--people", type=int, default=10, help="accounts the clients share")
    ap.add_argument("--seed-photos", type=int, default=30, help="photos per person first")
    ap.add_argument("--seed-timeout", type=float, default=900.0, help="s to analyse the seed")
    ap.add_argument("--pool", type=int, default=160, help="re-encoded photos the load sends")
    ap.add_argument("--start-timeout", type=float, default=120.0, help="s to answer /health")
    ap.add_argument("--models", action="store_true", help="default models (SSCD, YOLO) on")
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache", help="build folder")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="shared folder")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    args = ap.parse_args(argv)
    configs: list[Config] = args.config or [parse_config(c) for c in DEFAULT_CONFIGS]
    if len({c.name for c in configs}) != len(configs):
        ap.error("config names must differ")
    if args.clients < 1 or args.people < 1 or args.rounds < 1 or args.seed_photos < 1:
        ap.error("--clients, --people, --rounds and --seed-photos must be at least 1")

    load_start = os.getloadavg()
    originals = ensure_originals((args.shared / "bench").resolve(), args.cache.resolve())
    found = read_photos(originals)
    if not found:
        sys.exit(f"no JPEG photos in {originals}")
    log(f"preparing photos from {len(found)} real photos in {originals}")
    started = time.monotonic()
    photos = prepare_photos(found, args.people, args.seed_photos, args.pool)
    log(f"photos ready in {time.monotonic() - started:.1f} s")

    runs: dict[str, list[JsonDict]] = {c.name: [] for c in configs}
    failures: dict[str, list[JsonDict]] = {c.name: [] for c in configs}
    for r in range(1, args.rounds + 1):
        order = configs if r % 2 else configs[::-1]
        for config in order:
            log(f"round {r}: {config.name} ({config.spec})")
            run = run_once(config, r, args, photos)
            if run["ok"]:
                runs[config.name].append(run)
                log(
                    f"round {r}: {config.name}: {run['requests']} requests, "
                    f"{run['errors']} errors; reads p50/p99 {run['reads']['p50_ms']}/"
                    f"{run['reads']['p99_ms']} ms, uploads p50/p99 {run['upload']['p50_ms']}/"
                    f"{run['upload']['p99_ms']} ms; backlog min/median/max "
                    + "/".join(str((run["backlog"] or {}).get(k)) for k in ("min", "median", "max"))
                )
            else:
                failures[config.name].append(run)
                log(f"round {r}: {config.name}: FAILED: {run['error']}")
    load_end = os.getloadavg()

    result: JsonDict = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(REPO),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in load_end],
        },
        "command": shlex.join(["python", "bench/serve_load_benchmark.py", *sys.argv[1:]]),
        "settings": {
            "rounds": args.rounds,
            "clients": args.clients,
            "uploaders": args.uploaders,
            "seconds": args.seconds,
            "read_think_s": args.read_think,
            "upload_think_s": args.upload_think,
            "read_timeout_s": args.read_timeout,
            "upload_timeout_s": args.upload_timeout,
            "people": args.people,
            "seed_photos": args.seed_photos,
            "pool": args.pool,
            "models": args.models,
            "photos": len(found),
        },
        "targets": {"read_p99_ms": READ_P99_TARGET_MS, "upload_p99_ms": UPLOAD_P99_TARGET_MS},
        "configs": [summarise(c, runs[c.name], failures[c.name]) for c in configs],
    }
    print(render(result, markdown=False))
    if args.no_write:
        return 0
    # With the models on, a section of its own: the analysis then cannot keep up (the
    # service's default, and the harder case), and the figures without them stay beside it.
    key = f"{SECTION}-models" if args.models else SECTION
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    title = "## `dupfinder serve` under load" + (", models on" if args.models else "")
    section = "\n".join([start, title, "", describe(result)])
    section += "\n\n" + render(result, markdown=True) + "\n" + end
    update_results_md(BENCH_DIR / "RESULTS.md", start, end, section)
    update_results_json(BENCH_DIR / "results.json", key, result)
    return 0


def describe(result: JsonDict) -> str:
    s = result["settings"]
    load = result["load_average"]
    uploaders = uploader_count(s["clients"], s["uploaders"])
    configs = "; ".join(
        f"{c['name']}: " + (" ".join(f"{k}={v}" for k, v in c["env"].items()) or "(no variables)")
        for c in result["configs"]
    )
    verdicts = "; ".join(
        f"{c['name']}: read p99 {met(c['targets']['read_p99'])}, "
        f"upload p99 {met(c['targets']['upload_p99'])}"
        for c in result["configs"]
    )
    return (
        f"`{result['command']}` on {result['date']} (commit {result['commit']}, {result['cpu']}, "
        f"{result['cores']} cores shared with other work; load average {load['start'][0]} at "
        f"the start, {load['end'][0]} at the end). Each run: a fresh `dupfinder serve` process "
        f"on loopback ({configs}; models {'on' if s['models'] else 'off'}), "
        f"{s['people']} people with {s['seed_photos']} real photos each analysed first, then "
        f"{s['seconds']:g} s of {s['clients']} concurrent clients: {uploaders} of them upload "
        f"batches of 4-8 new JPEGs (about {s['upload_think_s']:g} s apart), the others read (about "
        f"{s['read_think_s']:g} s apart: groups, image pages, counts, thumbnails). Times until "
        f"the whole answer (uploads: the 202); errors keep their time (timeouts: "
        f"{s['read_timeout_s']:g} s reads, {s['upload_timeout_s']:g} s uploads). The backlog is "
        f"the images not yet ready or failed, sampled each second during the load. Serve CPU "
        f"and peak RSS are the serve process tree's during the load (VmHWM summed over the "
        f"processes). Rounds: {s['rounds']}, configs in alternating order; medians.\n\n"
        f"Targets: read p99 <= {READ_P99_TARGET_MS:g} ms while analysis runs, upload p99 <= "
        f"{UPLOAD_P99_TARGET_MS:g} ms. {verdicts}."
    )


if __name__ == "__main__":
    sys.exit(main())
