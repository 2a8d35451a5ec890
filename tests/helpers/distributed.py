"""Real pieces of the distributed mode for tests: a private Redis, Celery worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlmodel import Session, col, select

from backend.models import Image
from backend.models.image import UNFINISHED
from backend.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, which the test may restart."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (Debian package redis-server)")
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(lambda: redis.Redis(port=self.port).ping(), 10, "redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # a crash: nothing is saved (as configured: no persistence)
            self.proc.wait(10)
            self.proc = None


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class WorkerProcess:
    """``dupfinder worker`` as the deployment runs it, in its own process group."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend.cli",
                "worker",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        eventually(lambda: b"ready." in log.read_bytes(), 60, f"worker not ready; see {log}")

    def kill(self) -> None:
        """kill -9 of the whole worker (main process and its pool), as a machine lost."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def worker(env: dict[str, str], log: Path, concurrency: int = 1) -> Iterator[WorkerProcess]:
    w = WorkerProcess(env, log, concurrency)
    try:
        yield w
    finally:
        w.stop()


def eventually(check: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll ``check`` until it returns something true; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not ready yet (e.g. connection refused)
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"{message} (after {timeout:.0f} s; last error: {last_error!r})")


def unfinished(runtime: Runtime) -> int:
    with Session(runtime.engine) as session:
        return len(session.exec(select(Image.id).where(col(Image.state).in_(UNFINISHED))).all())


class RestartablePostgres:
    """An embedded PostgreSQL (tests/helpers/pgvector.py) the test may stop and start again on
    the same port and data directory, as a database server that goes away for a moment.

    ``start`` re-runs the very command line the server last ran with (PostgreSQL writes it to
    ``postmaster.opts``), as the data directory's owner (PostgreSQL refuses to run as root)."""

    def __init__(self, server: Any) -> None:  # an EmbeddedServer
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None

    def _pid(self) -> int | None:
        try:
            return int((self.server.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def accepts(self) -> bool:
        import psycopg

        try:
            self.server.connect().close()
            return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are ended, clients see the server gone."""
        pid = self._pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGINT)
        if self.proc is not None:
            self.proc.wait(20)
            self.proc = None
        # The first server is the pgvector helper's child: it reaps it; the pid file goes.
        eventually(lambda: self._pid() is None, 20, "PostgreSQL did not stop")
        assert not self.accepts()

    def start(self) -> None:
        import shlex

        command = shlex.split((self.server.data_dir / "postmaster.opts").read_text())
        owner = os.stat(self.server.data_dir)
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            as_user = {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
        with open(self.server.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.server.data_dir.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user,
            )
        eventually(self.accepts, 30, f"PostgreSQL did not start again; see {self.server.log_file}")

    def close(self) -> None:
        """Stop a server this object started (the first one is the pgvector helper's)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextmanager
def restartable_postgres() -> Iterator[RestartablePostgres]:
    """A private PostgreSQL 18 server (with pgvector) that the test may stop and start."""
    from tests.helpers.pgvector import embedded_pgvector

    with embedded_pgvector() as server:
        pg = RestartablePostgres(server)
        try:
            yield pg
        finally:
            pg.close()
