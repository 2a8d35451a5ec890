#!/usr/bin/env python3
"""Vector search benchmark: one person's embeddings, exact NumPy against the two HNSW indexes.

usage: python bench/vector_benchmark.py [--sizes 100000,1000000] [--queries 1000] [--k 10]
           [--pg-sizes 100000,1000000] [--pg-build-minutes 15] [--pg-ef 40,100,200,400,1000]
           [--pg-wide-k 32] [--dtypes f32,f16,bf16] [--crossover 1000,2000,5000,10000,50000]
           [--only exact,usearch,pgvector,crossover] [--no-write] [--render]

Data: d = 512 unit vectors of ONE owner, embedding-like: 1 per 100 vectors is a random unit
centre, each vector is a centre plus noise plus a direction all vectors share (so unrelated
vectors are not orthogonal), and 5% are near-duplicates of another vector (cosine ~0.99).
Queries: 1,000 vectors drawn from the data and perturbed (cosine ~0.98 to their source).
The truth is the exact top-k (NumPy, float32). Recall is given for the whole top-k and for
the true neighbours at similarity >= 0.9 (near-duplicates: what a thresholded search needs;
the rest of a top 10 here are members of the query's cluster at ~0.5, nearly tied).

For each size:

- ``exact NumPy``: ``in_process.exact_search`` (the embedded index below its exact limit);
  per-query latency one query at a time, and the cost per query of one batch of all queries;
- ``usearch HNSW``: ``in_process.new_hnsw`` + ``hnsw_search`` (the embedded index past the
  limit; M=16, efConstruction=128, ef=128, built on one thread): build time, latency,
  recall@k; the storage types in ``--dtypes`` at the first size, the index's own at the others;
- ``pgvector HNSW``: the embedded PostgreSQL 18 + pgvector (tests/helpers/pgvector.py), the
  schema from the migrations, rows bulk-loaded with binary COPY, the index of revision 0004
  built afterwards (maintenance_work_mem 8 GB, one parallel worker: 2 cores) under a time
  limit, then ``PgvectorIndex.search`` (the service's code) one query at a time and as one
  batch. A build over the limit is recorded as not measured.

For both HNSW indexes, recall and latency at other search breadths (ef / hnsw.ef_search;
pgvector's with the service's iterative scan, relaxed_order, and at the service's ef_search also
with iterative scans off and strict_order; and the same sweep at k = ``--pg-wide-k``, the
service's DUPFINDER_NEIGHBOURS, its real k). Then the crossover: exact against HNSW, one query
and batches of 64, at smaller sizes: where the HNSW index starts to win (the in-process index's
``exact_limit``). ``--render`` reprints and rewrites the report from results.json without
measuring.

``--only`` measures some parts (e.g. ``--only pgvector``: no usearch build, which takes ~40 min
at 1M); the rows and crossover it did not measure are carried over from results.json, marked
with the run that measured them.

Prints tables and updates ``bench/RESULTS.md`` (its ``vector-search`` section) and
``bench/results.json`` (its ``vector_search`` key).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
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
from sqlmodel import Session  # noqa: E402

from backend.db.engine import make_engine  # noqa: E402
from backend.db.migrate import upgrade  # noqa: E402
from backend.services.similarity.in_process import (  # noqa: E402
    DEFAULT_EXACT_LIMIT,
    HNSW_CONNECTIVITY,
    HNSW_DTYPE,
    HNSW_EXPANSION_ADD,
    HNSW_EXPANSION_SEARCH,
    exact_search,
    hnsw_add,
    hnsw_search,
    new_hnsw,
)
from backend.services.similarity.pgvector import (  # noqa: E402
    MIN_EF_SEARCH,
    PgvectorIndex,
    index_name,
    search_statement,
    vector_literal,
)

BENCH_DIR = REPO / "bench"
SECTION = "vector-search"
RESULTS_KEY = "vector_search"
MARK_START = f"<!-- {SECTION}:start -->"
MARK_END = f"<!-- {SECTION}:end -->"
MACHINE_NOTE = "2 cores, shared/noisy"
D = 512
MODEL = "bench-512"
PER_CENTRE = 100
DUPLICATES = 0.05
DUP_SIMILARITY = 0.9  # "near-duplicate" neighbours, for the thresholded recall
USEARCH_EF = (64, 128, 256)  # ef sweep (the service's own is measured in any case)
PGVECTOR_EF = (40, 100, 200, 300, 400, 500, 600, 800, 1000)  # hnsw.ef_search (--pg-ef)
PG_SCAN_SETTINGS = ("hnsw.iterative_scan", "hnsw.max_scan_tuples", "hnsw.scan_mem_multiplier")
PARTS = ("exact", "usearch", "pgvector", "crossover")  # --only
PART_OF_METHOD = {"exact NumPy": "exact", "usearch HNSW": "usearch", "pgvector HNSW": "pgvector"}
SEED = 7

JsonDict = dict[str, Any]
Matrix = NDArray[np.float32]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def _unit(x: Matrix) -> Matrix:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_data(n: int, seed: int) -> Matrix:
    """The stored vectors (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((max(1, n // PER_CENTRE), D), dtype=np.float32))
    shared = _unit(rng.standard_normal((1, D), dtype=np.float32))
    x = np.empty((n, D), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        noise = rng.standard_normal((m, D), dtype=np.float32) * np.float32(1.2 / np.sqrt(D))
        x[s : s + m] = _unit(0.5 * shared + centres[rng.integers(0, len(centres), m)] + noise)
    dup = rng.choice(n, int(n * DUPLICATES), replace=False)
    src = rng.choice(n, len(dup))
    noise = rng.standard_normal((len(dup), D), dtype=np.float32) * np.float32(0.15 / np.sqrt(D))
    x[dup] = _unit(x[src] + noise)
    return x


def make_queries(x: Matrix, count: int, seed: int) -> Matrix:
    rng = np.random.default_rng(seed + 1)
    picked = x[rng.choice(len(x), count, replace=False)]
    noise = rng.standard_normal(picked.shape, dtype=np.float32) * np.float32(0.2 / np.sqrt(D))
    return _unit(picked + noise)


class Truth:
    """The exact top-k per query: positions (image id - 1) and similarities."""

    def __init__(self, x: Matrix, queries: Matrix, k: int) -> None:
        self.top = np.empty((len(queries), k), np.int64)
        self.sims = np.empty((len(queries), k), np.float32)
        step = max(1, (1 << 27) // len(x))  # blocks of queries: bounded memory
        for s in range(0, len(queries), step):
            sims = queries[s : s + step] @ x.T
            top = np.argpartition(sims, len(x) - k, axis=1)[:, len(x) - k :]
            top_sims = np.take_along_axis(sims, top, axis=1)
            order = np.argsort(-top_sims, axis=1)
            self.top[s : s + step] = np.take_along_axis(top, order, axis=1)
            self.sims[s : s + step] = np.take_along_axis(top_sims, order, axis=1)


def recalls(found: Sequence[Sequence[int]], truth: Truth) -> JsonDict:
    """recall@k, and the recall of the true top-k neighbours at or above DUP_SIMILARITY (the
    near-duplicates a threshold search is for); ids are positions + 1."""
    hits = close_hits = close = 0
    for f, top, sims in zip(found, truth.top, truth.sims, strict=True):
        got = set(f)
        ids = (top + 1).tolist()
        hits += sum(i in got for i in ids)
        near = [i for i, s in zip(ids, sims, strict=True) if s >= DUP_SIMILARITY]
        close += len(near)
        close_hits += sum(i in got for i in near)
    return {
        "recall": round(hits / truth.top.size, 4),
        "dup_recall": round(close_hits / close, 4) if close else None,
        "dup_neighbours": close,
    }


def latencies(run: Callable[[int], list[int]], count: int) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for i in range(count):
        started = time.perf_counter()
        found.append(run(i))
        times.append(time.perf_counter() - started)
    return times, found


def summary(times: list[float]) -> JsonDict:
    ms = np.array(times) * 1000
    return {
        "timed_queries": len(times),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


# --------------------------------------------------------------------------- methods


def bench_exact(
    x: Matrix, queries: Matrix, truth: NDArray[np.int64], k: int, timed: int
) -> JsonDict:
    ids = np.arange(1, len(x) + 1, dtype=np.int64)

    def one(i: int) -> list[int]:
        return [n.image_id for n in exact_search(x, ids, queries[i : i + 1], k, -1.0)[0]]

    one(0)  # warm-up
    times, found = latencies(one, timed)
    started = time.perf_counter()
    batch = exact_search(x, ids, queries, k, -1.0)
    batch_s = time.perf_counter() - started
    return {
        "method": "exact NumPy",
        "build_s": 0.0,
        **summary(times),
        "batch_ms_per_query": round(batch_s * 1000 / len(queries), 3),
        **recalls([[n.image_id for n in r] for r in batch], truth),
        "memory_mb": round(x.nbytes / 2**20),
    }


def bench_usearch(
    x: Matrix, queries: Matrix, truth: Truth, k: int, dtype: str, sweep: bool
) -> JsonDict:
    index = new_hnsw(D, dtype)
    started = time.perf_counter()
    hnsw_add(index, np.arange(1, len(x) + 1, dtype=np.int64), x)
    build_s = time.perf_counter() - started
    log(f"usearch {dtype}: built in {build_s:.1f} s")

    def measure(ef: int | None) -> JsonDict:
        def one(i: int) -> list[int]:
            found = hnsw_search(index, queries[i : i + 1], k, -1.0, ef)
            return [n.image_id for n in found[0]]

        one(0)
        times, found = latencies(one, len(queries))
        return {**summary(times), **recalls(found, truth)}

    result = {
        "method": f"usearch HNSW {dtype}",
        "build_s": round(build_s, 1),
        **measure(None),
        "memory_mb": round(index.memory_usage / 2**20),
    }
    result["ef"] = index.expansion_search
    started = time.perf_counter()
    hnsw_search(index, queries, k, -1.0)
    result["batch_ms_per_query"] = round((time.perf_counter() - started) * 1000 / len(queries), 3)
    # Similarity error of the stored type: the reported similarity against the exact one.
    first = hnsw_search(index, queries[:50], k, -1.0)
    errors = [
        abs(n.similarity - float(x[n.image_id - 1] @ q))
        for q, row in zip(queries[:50], first, strict=True)
        for n in row
    ]
    result["max_similarity_error"] = float(f"{max(errors):.2g}")
    if sweep:
        result["sweep"] = [{"ef": ef, **measure(ef)} for ef in USEARCH_EF if ef != result["ef"]]
    return result


def _copy_rows(x: Matrix, first_id: int) -> bytes:
    """image_embedding rows in PostgreSQL's binary COPY format (the columns of COPY_COLUMNS)."""
    n = len(x)
    model = MODEL.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l_image", ">i4"),
            ("image_id", ">i4"),
            ("l_owner", ">i4"),
            ("owner_id", ">i4"),
            ("l_model", ">i4"),
            ("model", f"S{len(model)}"),
            ("l_dim", ">i4"),
            ("dimension", ">i4"),
            ("l_bytes", ">i4"),
            ("bytes", "<f4", (D,)),  # the bytea column: little-endian float32, as stored
            ("l_vec", ">i4"),
            ("vec_dim", ">i2"),
            ("vec_unused", ">i2"),
            ("vec", ">f4", (D,)),  # pgvector's binary form: dim, 0, big-endian float4
            ("l_ts", ">i4"),
            ("ts", ">i8"),
        ]
    )
    rows = np.zeros(n, row)
    rows["fields"] = 7
    rows["l_image"] = rows["l_owner"] = rows["l_dim"] = 4
    rows["image_id"] = np.arange(first_id, first_id + n)
    rows["owner_id"] = 1
    rows["l_model"] = len(model)
    rows["model"] = model
    rows["dimension"] = D
    rows["l_bytes"] = 4 * D
    rows["bytes"] = x
    rows["l_vec"] = 4 + 4 * D
    rows["vec_dim"] = D
    rows["vec"] = x
    rows["l_ts"] = 8
    epoch_2000 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    rows["ts"] = int((dt.datetime.now(dt.UTC) - epoch_2000).total_seconds() * 1_000_000)
    return rows.tobytes()


COPY_COLUMNS = "image_id, owner_id, model_name, dimension, vector, embedding, created_at"


def bench_pgvector(
    x: Matrix,
    queries: Matrix,
    truth: Truth,
    k: int,
    build_minutes: float,
    efs: Sequence[int],
    wide: Truth | None = None,
) -> JsonDict:
    from tests.helpers.pgvector import embedded_pgvector

    result: JsonDict = {"method": "pgvector HNSW"}
    try:
        server_cm = embedded_pgvector()
        server = server_cm.__enter__()
    except BaseException as exc:  # pytest.skip raises an outcome, not an Exception
        result["not_measured"] = f"no embedded PostgreSQL with pgvector ({exc})"
        return result
    try:
        with server.temporary_database() as url:
            dbname = url.rsplit("/", 1)[1]
            upgrade(url)  # the real schema: revisions up to 0004
            with server.connect(dbname) as conn:
                result["server"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
                result["pgvector"] = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                ).fetchone()[
                    0
                ]  # type: ignore[index]
                result["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
                load_s = _pg_load(conn, x)
                result["load_s"] = round(load_s, 1)
                built = _pg_build(conn, build_minutes)
            if isinstance(built, str):
                result["not_measured"] = built
                return result
            result["build_s"] = round(built[0], 1)
            result["memory_mb"] = round(built[1] / 2**20)
            _pg_queries(url, queries, truth, k, efs, result, wide)
    finally:
        server_cm.__exit__(None, None, None)
    return result


def _pg_load(conn: psycopg.Connection, x: Matrix) -> float:
    n = len(x)
    started = time.perf_counter()
    conn.execute(
        'INSERT INTO "user" (id, email, name, hashed_password, is_active, created_at)'
        " VALUES (1, 'bench@example.com', '', 'x', true, now())"
    )
    conn.execute(
        "INSERT INTO image (owner_id, source, filename, storage_key, size_bytes, frames,"
        " is_greyscale, exif_fields, state, created_at)"
        " SELECT 1, 'UPLOAD', 'p.jpg', 'k' || i, 0, 1, false, 0, 'ready', now()"
        " FROM generate_series(1, %s) AS i",
        (n,),
    )
    # Bulk load, then build: inserting into a live HNSW graph row by row is far slower.
    conn.execute(f"DROP INDEX {index_name(D)}")
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    with conn.cursor() as cur:
        with cur.copy(f"COPY image_embedding ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(header)
            for s in range(0, n, 20_000):
                copy.write(_copy_rows(x[s : s + 20_000], s + 1))
            copy.write(struct.pack(">h", -1))
    conn.execute("ANALYZE image_embedding")
    log(f"pgvector: {n} rows loaded in {time.perf_counter() - started:.1f} s")
    return time.perf_counter() - started


def _pg_build(conn: psycopg.Connection, minutes: float) -> tuple[float, int] | str:
    """The index of revision 0004, timed; or why it was not measured."""
    conn.execute("SET maintenance_work_mem = '8GB'")
    conn.execute("SET max_parallel_maintenance_workers = 1")  # + the leader: both cores
    conn.execute(f"SET statement_timeout = '{int(minutes * 60)}s'")
    started = time.perf_counter()
    try:
        conn.execute(
            f"CREATE INDEX {index_name(D)} ON image_embedding USING hnsw "
            f"((embedding::vector({D})) vector_cosine_ops) WHERE dimension = {D}"
        )
    except psycopg.errors.QueryCanceled:
        return f"not measured: the index build exceeded {minutes:g} min"
    finally:
        conn.execute("SET statement_timeout = 0")
    seconds = time.perf_counter() - started
    size = conn.execute(f"SELECT pg_relation_size('{index_name(D)}')").fetchone()[0]  # type: ignore[index]
    log(f"pgvector: index built in {seconds:.1f} s ({size / 2**20:.0f} MB)")
    return seconds, int(size)


def _pg_queries(
    url: str,
    queries: Matrix,
    truth: Truth,
    k: int,
    efs: Sequence[int],
    result: JsonDict,
    wide: Truth | None = None,
) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            params = {"queries": [vector_literal(queries[0])], "owner": 1, "model": MODEL, "k": k}
            plan = session.execute(sa.text(f"EXPLAIN {search_statement(D).text}"), params)
            result["uses_hnsw_index"] = any(index_name(D) in line for line in plan.scalars())

            def measure(index: PgvectorIndex, k: int = k, truth: Truth = truth) -> JsonDict:
                def one(i: int) -> list[int]:
                    found = index.search(session, 1, MODEL, queries[i : i + 1], k, -1.0)
                    return [n.image_id for n in found[0]]

                times, found = latencies(one, len(queries))
                return {**summary(times), **recalls(found, truth)}

            service = PgvectorIndex()
            for i in range(min(100, len(queries))):  # warm-up: the index into the page cache
                service.search(session, 1, MODEL, queries[i : i + 1], k, -1.0)
            result["ef"] = service.ef_search(k)
            result.update(measure(service))
            # The search's SET LOCALs last until the transaction ends: what it ran with.
            result["scan_settings"] = {
                name: session.execute(sa.text(f"SHOW {name}")).scalar_one()
                for name in ("hnsw.ef_search", *PG_SCAN_SETTINGS)
            }
            log(f"pgvector: service {result}")
            started = time.perf_counter()
            service.search(session, 1, MODEL, queries, k, -1.0)
            result["batch_ms_per_query"] = round(
                (time.perf_counter() - started) * 1000 / len(queries), 3
            )
            result["sweep"] = []
            for ef in efs:
                if ef != result["ef"]:
                    result["sweep"].append({"ef": ef, **measure(PgvectorIndex(min_ef_search=ef))})
                    log(f"pgvector: ef_search {ef}: {result['sweep'][-1]}")
            # The same ef_search with the other iterative-scan modes: the search sets none
            # (iterative_scan=False), so the SET LOCAL here holds.
            result["scan_modes"] = []
            for mode in ("off", "strict_order"):
                session.execute(
                    sa.text("SELECT set_config('hnsw.iterative_scan', :mode, true)"),
                    {"mode": mode},
                )
                other = PgvectorIndex(iterative_scan=False, min_ef_search=service.min_ef_search)
                result["scan_modes"].append({"iterative_scan": mode, **measure(other)})
                log(f"pgvector: iterative_scan {mode}: {result['scan_modes'][-1]}")
            session.rollback()
            if wide is not None:  # k = the service's neighbours per image: ef_search >= 2k
                wk = wide.top.shape[1]
                result["wide_k"] = wk
                result["wide_sweep"] = []
                for ef in sorted({max(ef, 2 * wk) for ef in efs}):
                    point = measure(PgvectorIndex(min_ef_search=ef), wk, wide)
                    result["wide_sweep"].append({"ef": ef, **point})
                    log(f"pgvector: k {wk}, ef_search {ef}: {point}")
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- crossover


def crossover(x: Matrix, queries: Matrix, sizes: Sequence[int], k: int) -> list[JsonDict]:
    """One query at a time, exact against HNSW, on the first n vectors."""
    rows = []
    count = min(300, len(queries))
    for n in sizes:
        sub = np.ascontiguousarray(x[:n])
        ids = np.arange(1, n + 1, dtype=np.int64)

        def exact_one(i: int, sub: Matrix = sub, ids: NDArray[np.int64] = ids) -> list[int]:
            return [n.image_id for n in exact_search(sub, ids, queries[i : i + 1], k, -1.0)[0]]

        exact_one(0)
        exact_times, _ = latencies(exact_one, count)
        batch = queries[:64]
        started = time.perf_counter()
        exact_search(sub, ids, batch, k, -1.0)
        batch64 = (time.perf_counter() - started) * 1000 / len(batch)
        index = new_hnsw(D)
        started = time.perf_counter()
        hnsw_add(index, ids, sub)
        build_s = time.perf_counter() - started

        def hnsw_one(i: int, index: Any = index) -> list[int]:
            return [n.image_id for n in hnsw_search(index, queries[i : i + 1], k, -1.0)[0]]

        hnsw_one(0)
        hnsw_times, _ = latencies(hnsw_one, count)
        started = time.perf_counter()
        hnsw_search(index, batch, k, -1.0)
        hnsw64 = (time.perf_counter() - started) * 1000 / len(batch)
        row = {
            "n": n,
            "exact_p50_ms": summary(exact_times)["p50_ms"],
            "exact_batch64_ms_per_query": round(batch64, 3),
            "hnsw_p50_ms": summary(hnsw_times)["p50_ms"],
            "hnsw_batch64_ms_per_query": round(hnsw64, 3),
            "hnsw_build_s": round(build_s, 2),
        }
        log(f"crossover: {row}")
        rows.append(row)
    return rows


def _last_exact_win(rows: list[JsonDict], exact: str, hnsw: str) -> int:
    """The largest size up to which exact search is no slower than HNSW."""
    limit = 0
    for row in rows:
        if row[exact] > row[hnsw]:
            break
        limit = row["n"]
    return limit


def conclusion(res: JsonDict) -> str:
    rows = res["crossover"]
    if not rows:
        return "No crossover measured."
    single = _last_exact_win(rows, "exact_p50_ms", "hnsw_p50_ms")
    batch = _last_exact_win(rows, "exact_batch64_ms_per_query", "hnsw_batch64_ms_per_query")
    first_win = next((r for r in rows if r["n"] > single), None)
    text = f"For one query, exact search is no slower than HNSW up to {single} vectors"
    if first_win is not None:
        text += (
            f"; HNSW wins from {first_win['n']} ({first_win['hnsw_p50_ms']:.3f} ms against "
            f"{first_win['exact_p50_ms']:.3f} ms)"
        )
    return (
        f"{text}. For a batch of 64 queries (how the grouping searches) exact search keeps up "
        f"to {batch} vectors. The in-process index switches to HNSW past "
        f"exact_limit = {DEFAULT_EXACT_LIMIT} (in_process.DEFAULT_EXACT_LIMIT)."
    )


# --------------------------------------------------------------------------- report


def environment() -> JsonDict:
    import usearch

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": MACHINE_NOTE,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "usearch": usearch.__version__,
        "psycopg": psycopg.__version__,
        "sqlalchemy": sa.__version__,
        "commit": git_commit(REPO),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def tables(res: JsonDict) -> list[tuple[str, list[str], list[list[str]]]]:
    k = res["k"]
    header = [
        "vectors",
        "method",
        "build/load s",
        "ef",
        "p50 ms",
        "p95 ms",
        "batch ms/query",
        f"recall@{k}",
        f"recall, sim >= {DUP_SIMILARITY}",
        "memory MB",
    ]
    rows, sweep = [], []
    for r in res["results"]:
        method = r["method"] + (" (earlier run)" if "carried_from" in r else "")
        if "not_measured" in r:
            rows.append([f"{r['n']}", method, r["not_measured"], *["-"] * 7])
            continue
        build = _fmt(r.get("build_s"), ".1f")
        if "load_s" in r:
            build = f"{build} (+ load {r['load_s']:.1f})"
        rows.append(
            [
                f"{r['n']}",
                method,
                build,
                _fmt(r.get("ef"), "d"),
                _fmt(r.get("p50_ms"), ".3f"),
                _fmt(r.get("p95_ms"), ".3f"),
                _fmt(r.get("batch_ms_per_query"), ".3f"),
                _fmt(r.get("recall"), ".4f"),
                _fmt(r.get("dup_recall"), ".4f"),
                _fmt(r.get("memory_mb"), "d"),
            ]
        )
        points = sorted([r, *r["sweep"]], key=lambda p: int(p["ef"])) if "sweep" in r else []
        pg = r["method"].startswith("pgvector")
        modes = [(p, p["iterative_scan"]) for p in r.get("scan_modes", [])]
        for point, mode in [(p, "relaxed_order" if pg else "-") for p in points] + modes:
            sweep.append(
                [
                    f"{r['n']}",
                    method,
                    f"{r['ef'] if mode in ('off', 'strict_order') else point['ef']}"
                    + (" (service)" if point is r else ""),
                    mode,
                    f"{point['p50_ms']:.3f}",
                    f"{point['p95_ms']:.3f}",
                    _fmt(point.get("p99_ms"), ".3f"),
                    f"{point['recall']:.4f}",
                    _fmt(point.get("dup_recall"), ".4f"),
                ]
            )
    wide = [
        [
            f"{r['n']}",
            f"{point['ef']}",
            f"{point['p50_ms']:.3f}",
            f"{point['p95_ms']:.3f}",
            _fmt(point.get("p99_ms"), ".3f"),
            f"{point['recall']:.4f}",
            _fmt(point.get("dup_recall"), ".4f"),
        ]
        for r in res["results"]
        for point in r.get("wide_sweep", [])
    ]
    wide_k = next((r["wide_k"] for r in res["results"] if "wide_k" in r), None)
    cross = [
        [
            f"{c['n']}",
            f"{c['exact_p50_ms']:.3f}",
            f"{c['exact_batch64_ms_per_query']:.3f}",
            f"{c['hnsw_p50_ms']:.3f}",
            _fmt(c.get("hnsw_batch64_ms_per_query"), ".3f"),
            f"{c['hnsw_build_s']:.2f}",
        ]
        for c in res["crossover"]
    ]
    wide_table = (
        [
            (
                f"pgvector at k = {wide_k} (DUPFINDER_NEIGHBOURS: what the grouping asks for; "
                f"ef_search at least 2k = {2 * wide_k}), iterative scan relaxed_order",
                [
                    "vectors",
                    "ef",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    f"recall@{wide_k}",
                    f"recall, sim >= {DUP_SIMILARITY}",
                ],
                wide,
            )
        ]
        if wide
        else []
    )
    return [
        (f"One person's vectors, d = {D}, k = {k}, {res['queries']} queries", header, rows),
        (
            "Search breadth (ef / hnsw.ef_search) against recall, one query at a time",
            [
                "vectors",
                "method",
                "ef",
                "iterative scan",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                f"recall@{k}",
                f"recall, sim >= {DUP_SIMILARITY}",
            ],
            sweep,
        ),
        *wide_table,
        (
            f"Exact or HNSW, one query or 64 at once (in-process, usearch {HNSW_DTYPE})",
            [
                "vectors",
                "exact p50 ms",
                "exact batch-of-64 ms/query",
                "HNSW p50 ms",
                "HNSW batch-of-64 ms/query",
                "HNSW build s",
            ],
            cross,
        ),
    ]


def _pg_rows(res: JsonDict) -> list[JsonDict]:
    return [
        r
        for r in res["results"]
        if r["method"] == "pgvector HNSW" and "not_measured" not in r and "carried_from" not in r
    ]


def pg_conclusion(res: JsonDict, wanted: float = 0.95) -> str:
    """Per size measured: the smallest hnsw.ef_search with recall@k >= wanted."""
    texts = []
    for r in _pg_rows(res):
        points = sorted([r, *r.get("sweep", [])], key=lambda p: int(p["ef"]))
        ok = next((p for p in points if p["recall"] >= wanted), None)
        best = max(points, key=lambda p: p["recall"])
        if ok is None:
            texts.append(
                f"at {r['n']} vectors no ef_search measured reaches recall@{res['k']} "
                f"{wanted} (best {best['recall']:.4f} at {best['ef']}, p50 "
                f"{best['p50_ms']:.1f} ms)"
            )
        else:
            texts.append(
                f"at {r['n']} vectors ef_search {ok['ef']} is the smallest measured with "
                f"recall@{res['k']} >= {wanted} ({ok['recall']:.4f}, p50 {ok['p50_ms']:.1f} ms, "
                f"p99 {_fmt(ok.get('p99_ms'), '.1f')} ms; the service's {r['ef']}: "
                f"{r['recall']:.4f}, p50 {r['p50_ms']:.1f} ms)"
            )
    return ("pgvector: " + "; ".join(texts) + ".") if texts else ""


def _carried_note(res: JsonDict) -> list[str]:
    """Which figures an earlier run measured (``--only``)."""
    runs: dict[str, list[str]] = {}
    for r in res["results"]:
        if "carried_from" in r:
            c = r["carried_from"]
            key = f"{c['date']} (commit {c['commit']}, `{c['command']}`)"
            runs.setdefault(key, []).append(f"{r['method']} at {r['n']}")
    if "crossover_from" in res:
        c = res["crossover_from"]
        key = f"{c['date']} (commit {c['commit']}, `{c['command']}`)"
        runs.setdefault(key, []).append("the crossover table")
    return [
        f"- Not measured by this command, carried over from the run of {run}: {', '.join(what)}"
        for run, what in runs.items()
    ]


def markdown(res: JsonDict) -> str:
    env = res["environment"]
    measured = _pg_rows(res)
    service_ef = measured[0]["ef"] if measured else MIN_EF_SEARCH
    scan = measured[0].get("scan_settings", {}) if measured else {}
    scan_text = ", ".join(f"{k} = {v}" for k, v in scan.items() if k != "hnsw.ef_search")
    parts = [
        MARK_START,
        "## Vector search: exact NumPy, usearch HNSW (in-process) and pgvector HNSW",
        "",
        f"- Date: {env['date']} (commit {env['commit']})",
        f"- Machine: {env['machine']} ({env['cores']} x {env['cpu']}, {env['memory_gb']} GB); "
        f"Python {env['python']}, NumPy {env['numpy']}, usearch {env['usearch']}, "
        f"psycopg {env['psycopg']}, SQLAlchemy {env['sqlalchemy']}"
        + (
            f", PostgreSQL {res['pg_server']} with pgvector {res['pgvector']}"
            if res.get("pg_server")
            else ""
        )
        + f"; load average at start {' / '.join(f'{v:.2f}' for v in env['load_average_at_start'])}"
        + (
            f", at the end {' / '.join(f'{v:.2f}' for v in env['load_average_at_end'])}"
            if "load_average_at_end" in env
            else ""
        )
        + " (1/5/15 min: other work shared the machine)",
        f"- Command: `{res['command']}`",
        f"- Data: one owner, d = {D}, {PER_CENTRE} vectors per random centre plus noise and a "
        f"shared direction, {DUPLICATES:.0%} near-duplicates; {res['queries']} queries drawn "
        "from the data and perturbed; recall against the exact top-k, and of those true "
        f"top-k neighbours with similarity >= {DUP_SIMILARITY} (what a thresholded duplicate "
        "search needs; the rest of the top 10 are cluster members at ~0.5, nearly tied)",
        f"- usearch: M = {HNSW_CONNECTIVITY}, efConstruction = {HNSW_EXPANSION_ADD}, "
        f"ef = {HNSW_EXPANSION_SEARCH}, built on one thread (see `hnsw_add`), batches on all "
        "cores; latency = one `hnsw_search` call per query (the service's code)",
        "- pgvector: schema from the migrations, binary COPY, then revision 0004's index "
        "(M = 16, ef_construction = 64, maintenance_work_mem 8 GB, 1 parallel worker), "
        f"time-boxed at {res['pg_build_minutes']:g} min; latency = one `PgvectorIndex.search` "
        f"call per query (ef_search {service_ef}"
        + (f"; {scan_text}" if scan_text else ", iterative scan relaxed_order")
        + ") over SQLAlchemy, after "
        f"100 warm-up queries; shared_buffers {res.get('pg_shared_buffers', '?')} (the helper's "
        "default), the rest from the OS page cache. One owner: every row passes the search's "
        "filter, so the iterative scan never has to go past the first ef_search candidates "
        "(hnsw.max_scan_tuples and hnsw.scan_mem_multiplier bound only that); recall is set "
        "by ef_search alone, as the off / strict_order rows show",
        "- Exact: one `exact_search` call per query (a matrix-vector product and argpartition); "
        "the batch column is one call for all queries (a matrix product: how the grouping "
        "searches a batch of new photos)",
        *_carried_note(res),
        "",
    ]
    for title, header, rows in tables(res):
        parts += [f"### {title}", "", md_table(header, rows), ""]
    if res.get("pg_conclusion"):
        parts += [f"**{res['pg_conclusion']}**", ""]
    parts += [f"**{res['conclusion']}**", "", MARK_END]
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="100000,1000000", help="vectors per run")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--pg-sizes", default=None, help="sizes for pgvector (default: --sizes)")
    ap.add_argument("--pg-build-minutes", type=float, default=15.0)
    ap.add_argument(
        "--pg-ef",
        default=",".join(map(str, PGVECTOR_EF)),
        help="hnsw.ef_search values to sweep (the service's own is measured in any case)",
    )
    ap.add_argument("--dtypes", default="f32,f16,bf16", help="usearch types at the first size")
    ap.add_argument("--exact-timed", type=int, default=200, help="exact latency queries > 100k")
    ap.add_argument("--crossover", default="1000,2000,5000,7500,10000,20000,50000")
    ap.add_argument(
        "--pg-wide-k",
        type=int,
        default=32,
        help="pgvector: the ef_search sweep again at this k (DUPFINDER_NEIGHBOURS); 0: not",
    )
    ap.add_argument(
        "--only",
        default=",".join(PARTS),
        help="parts to measure; the others are carried over from results.json",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/ alone")
    ap.add_argument(
        "--render", action="store_true", help="no measuring: report results.json's figures again"
    )
    args = ap.parse_args(argv)
    if args.render:
        report(json.loads((BENCH_DIR / "results.json").read_text())[RESULTS_KEY], args.no_write)
        return 0
    sizes = _ints(args.sizes)
    pg_sizes = set(_ints(args.pg_sizes) if args.pg_sizes is not None else sizes)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if not parts or parts - set(PARTS):
        ap.error(f"--only: some of {', '.join(PARTS)}")
    given = list(sys.argv[1:] if argv is None else argv)
    res: JsonDict = {
        "command": shlex.join([".venv/bin/python", "bench/vector_benchmark.py", *given]),
        "environment": environment(),
        "dimension": D,
        "k": args.k,
        "queries": args.queries,
        "pg_build_minutes": args.pg_build_minutes,
        "results": [],
    }
    started = time.perf_counter()
    first_x: Matrix | None = None
    first_q: Matrix | None = None
    for position, n in enumerate(sizes):
        log(f"{n} vectors: data")
        x = make_data(n, SEED)
        queries = make_queries(x, args.queries, SEED)
        truth = Truth(x, queries, args.k)
        timed = args.queries if n <= 100_000 else min(args.queries, args.exact_timed)
        if "exact" in parts:
            log(f"{n} vectors: exact ({timed} timed queries)")
            res["results"].append({"n": n, **bench_exact(x, queries, truth, args.k, timed)})
        dtypes = args.dtypes.split(",") if position == 0 else [HNSW_DTYPE]
        for dtype in dtypes if "usearch" in parts else []:
            log(f"{n} vectors: usearch {dtype}")
            sweep = dtype == HNSW_DTYPE
            res["results"].append(
                {"n": n, **bench_usearch(x, queries, truth, args.k, dtype, sweep)}
            )
        if n in pg_sizes and "pgvector" in parts:
            log(f"{n} vectors: pgvector")
            efs = _ints(args.pg_ef)
            wide = Truth(x, queries, args.pg_wide_k) if args.pg_wide_k > args.k else None
            pg = bench_pgvector(x, queries, truth, args.k, args.pg_build_minutes, efs, wide)
            res["pg_server"] = pg.pop("server", res.get("pg_server"))
            res["pgvector"] = pg.pop("pgvector", res.get("pgvector"))
            res["pg_shared_buffers"] = pg.pop("shared_buffers", res.get("pg_shared_buffers"))
            res["results"].append({"n": n, **pg})
        if position == 0:
            first_x, first_q = x, queries
        else:
            del x
    assert first_x is not None and first_q is not None
    if "crossover" in parts:
        cross_sizes = [c for c in _ints(args.crossover) if c <= len(first_x)]
        log("crossover")
        res["crossover"] = crossover(first_x, first_q, cross_sizes, args.k)
    res["total_s"] = round(time.perf_counter() - started, 1)
    res["environment"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if parts != set(PARTS):
        carry_over(res)
    report(res, args.no_write)
    return 0


def _part(method: str) -> str:
    return next(part for prefix, part in PART_OF_METHOD.items() if method.startswith(prefix))


def carry_over(res: JsonDict) -> None:
    """A partial run (``--only``): the rows of results.json this run did not measure (same
    size and method), and its crossover if this run has none, marked with their run."""
    path = BENCH_DIR / "results.json"
    previous = json.loads(path.read_text()).get(RESULTS_KEY) if path.exists() else None
    if not previous:
        res.setdefault("crossover", [])
        return
    if previous.get("k") != res["k"] or previous.get("queries") != res["queries"]:
        log("results.json was measured with another k or query count: nothing carried over")
        res.setdefault("crossover", [])
        return
    env = previous["environment"]
    origin = {"date": env["date"], "commit": env["commit"], "command": previous["command"]}
    have = {(r["n"], r["method"]) for r in res["results"]}
    for row in previous["results"]:
        if (row["n"], row["method"]) not in have:
            res["results"].append({"carried_from": origin, **row})
    order = list(PARTS)
    res["results"].sort(key=lambda r: (r["n"], order.index(_part(r["method"]))))
    for key in ("pg_server", "pgvector", "pg_shared_buffers"):
        if res.get(key) is None and previous.get(key) is not None:
            res[key] = previous[key]
    if "crossover" not in res:
        res["crossover"] = previous.get("crossover", [])
        res["crossover_from"] = previous.get("crossover_from", origin)


def report(res: JsonDict, no_write: bool) -> None:
    res["exact_limit"] = DEFAULT_EXACT_LIMIT
    res["conclusion"] = conclusion(res)
    res["pg_conclusion"] = pg_conclusion(res)
    for title, header, rows in tables(res):
        print(f"\n{title}\n{text_table(header, rows)}")
    print(f"\n{res['pg_conclusion']}\n{res['conclusion']}")
    if not no_write:
        update_results_md(BENCH_DIR / "RESULTS.md", MARK_START, MARK_END, markdown(res))
        update_results_json(BENCH_DIR / "results.json", RESULTS_KEY, res)
        print(f"\nwrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
