"""`dupfinder serve`: the web server, its requests answered by one process or by several.

One Python process answers at most one core's worth of requests (the GIL): under fifty
clients a process was busy 91 % of the time and reads waited in line for it (bench/RESULTS.md,
"`dupfinder serve` under load"). With ``DUPFINDER_API_PROCESSES`` above one (the default on a
machine with two cores or more) this process supervises:

- it binds one listening socket per API process on the port (SO_REUSEPORT: the kernel spreads
  the connections over them), prepares the database and runs what must be single: the
  embedded worker (whose analysis runs in its own lower-priority processes) and its sweep;
- it starts that many API processes, each on its socket, which relay the jobs their requests
  queue to the worker here through a pipe each (``relay.py``);
- it starts an API process again if one dies, and stops them all on SIGINT or SIGTERM.

In distributed mode the API processes send their jobs to Celery as usual; nothing is relayed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType

from backend.config import Settings
from backend.services.worker.relay import JobRelay

log = logging.getLogger(__name__)
# An API process that ends this soon after its start failed to start: starting it again
# would only fail again, so the server stops with its error instead.
START_GRACE_SECONDS = 5.0
# The interpreter's GIL hand-over interval in an API process (default 5 ms). A request's
# steps on the event loop wait for the GIL behind the request threads; a shorter interval cut
# read p99 by about a tenth under load (bench, 3 alternating rounds).
SWITCH_INTERVAL = 0.0005
# Seconds an API process lets its open requests finish once told to stop (the supervisor
# waits a little longer before it kills it).
GRACEFUL_SECONDS = 25


def api_processes(settings: Settings) -> int:
    """How many processes answer requests: the setting, or by default one per core up to 2
    (more would only take cores from the analysis)."""
    return settings.api_processes or min(2, os.cpu_count() or 1)


def run(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from backend.main import create_app

    n = api_processes(settings)
    if n <= 1:
        sys.setswitchinterval(SWITCH_INTERVAL)
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return 0
    return Supervisor(settings, host, port, n).run()


def listening_sockets(host: str, port: int, n: int) -> list[socket.socket]:
    """``n`` sockets listening on one address, one per API process: the kernel spreads new
    connections evenly over them (SO_REUSEPORT). One socket shared by all gave one process
    two thirds of the kept-alive connections and the other a quarter. Bound here, so that a
    restarted process takes over its socket's waiting connections. Where SO_REUSEPORT is
    missing, one socket is shared."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    # Without SO_REUSEPORT first: a port another server holds fails here, as it should, rather
    # than sharing its connections with it.
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the system chose, for all of them
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    socks: list[socket.socket] = []
    try:
        for _ in range(n if reuse_port else 1):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks if reuse_port else socks * n


@dataclass
class _Slot:
    process: BaseProcess
    started: float


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int, processes: int) -> None:
        self.settings, self.host, self.port, self.processes = settings, host, port, processes
        self._stop = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")
        self._relay: JobRelay | None = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def run(self) -> int:
        from backend.runtime import build_runtime

        # Ctrl-C or SIGTERM from here on stops everything in order, whenever it comes.
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:  # first: a second server on the port stops before it resumes anybody's work
            socks = listening_sockets(self.host, self.port, self.processes)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self.host, self.port, exc)
            return 1
        slots: list[_Slot] = []
        failed = False
        runtime = None
        try:
            runtime = build_runtime(self.settings)  # migrates; the embedded worker lives here
            if runtime.worker is not None:
                self._relay = JobRelay(runtime.worker)
                self._relay.start()
            runtime.start()
            for sock in socks:
                if not self._stop.is_set():
                    slots.append(self._start(sock))
            while not self._stop.wait(0.5):
                for i, slot in enumerate(slots):
                    if slot.process.is_alive() or self._stop.is_set():
                        continue
                    code = slot.process.exitcode
                    if time.monotonic() - slot.started < START_GRACE_SECONDS:
                        log.error("an API process could not start (exit code %s); stopping", code)
                        failed = True
                        self._stop.set()
                        break
                    log.warning("an API process ended (exit code %s); starting another", code)
                    slots[i] = self._start(socks[i])
        finally:
            for sock in socks:  # no new connection waits for a process that is ending
                sock.close()
            for slot in slots:
                if slot.process.is_alive():
                    slot.process.terminate()  # SIGTERM: uvicorn finishes the open requests
            for slot in slots:
                slot.process.join(timeout=GRACEFUL_SECONDS + 5)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join()
            if self._relay is not None:
                self._relay.stop()  # hands on what the API processes sent before they ended
            if runtime is not None:
                runtime.close()
        return 1 if failed else 0

    def _start(self, sock: socket.socket) -> _Slot:
        jobs = self._relay.channel() if self._relay is not None else None
        process = self._spawn.Process(
            target=serve_requests,
            args=(self.settings, sock, jobs, os.getpid()),
            name="dupfinder-api",
            daemon=False,  # it has request threads of its own to end
        )
        process.start()
        if jobs is not None:
            jobs.close()  # the API process has its copy: the pipe ends when that process does
        return _Slot(process, time.monotonic())


def serve_requests(
    settings: Settings, sock: socket.socket, jobs: Connection | None, supervisor: int
) -> None:
    """An API process: the app on the supervisor's socket, until SIGTERM or SIGINT, or until
    the supervisor is gone."""
    import uvicorn

    from backend.main import create_app
    from backend.runtime import build_api_runtime

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.setswitchinterval(SWITCH_INTERVAL)
    host, port = sock.getsockname()[:2]
    runtime = build_api_runtime(settings, jobs, supervisor)
    config = uvicorn.Config(
        create_app(settings, runtime),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    server = uvicorn.Server(config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn raises the signal that stopped it again once it has: with these handlers that
    # ends the run below normally (the runtime closed), not the process on the spot.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def watch_supervisor() -> None:
        while not server.should_exit:
            if os.getppid() != supervisor:  # it was killed: do not serve on alone
                server.should_exit = True
            time.sleep(1.0)

    threading.Thread(target=watch_supervisor, name="dupfinder-watch", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        runtime.close()
