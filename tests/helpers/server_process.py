"""A real `dupfinder serve` process on a free loopback port, and its memory as Linux counts it:
the resident memory (/proc/PID/status VmRSS) of the server and its analysis processes together,
sampled every few milliseconds for the peak (each process's own VmHWM peaks at another moment,
so their sum would count memory that was never in use at once)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend.config.settings import DEV_SECRET

MIB = 1024 * 1024
PASSWORD = "correct horse battery staple"
_DONE = ("ready", "failed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(root: int) -> list[int]:
    """``root`` and every process under it."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _resident(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError):  # ended meanwhile
            continue
    return total


_PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeMeter:
    """The peak resident memory of a process tree, sampled every ``interval`` seconds (the
    tree itself re-read every 50 samples: analysis processes start when first needed)."""

    def __init__(self, root: int, interval: float = 0.003) -> None:
        self.root, self.interval = root, interval
        self.peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pids: list[int] = []
        n = 0
        while not self._stop.wait(self.interval):
            if n % 50 == 0:
                pids = _tree(self.root)
            n += 1
            now = _resident(pids)
            with self._lock:
                self.peak = max(self.peak, now)

    def reset(self) -> None:
        with self._lock:
            self.peak = _resident(_tree(self.root))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str]
    workdir: Path  # holds data/ (DUPFINDER_DATA_DIR) and tmp/ (TMPDIR)
    meter: TreeMeter

    def processes(self) -> list[int]:
        """The server's process and its analysis processes."""
        return _tree(self.proc.pid)

    def memory(self) -> tuple[int, int]:
        """(resident now, peak since the last reset) in bytes, of the server and its analysis
        processes together."""
        now = _resident(self.processes())
        return now, max(now, self.meter.peak)

    def person(self, email: str) -> Server:
        """The same server, signed in as a new person (each person's photos are compared
        only with their own)."""
        signup = {"email": email, "password": PASSWORD}
        assert httpx.post(f"{self.url}/api/v1/auth/register", json=signup).status_code == 202
        token = httpx.post(
            f"{self.url}/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        return Server(self.proc, self.url, headers, self.workdir, self.meter)

    def reset_peak(self) -> None:
        self.meter.reset()

    def upload(self, files: list[tuple[str, bytes]]) -> dict[str, Any]:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        response = httpx.post(
            f"{self.url}/api/v1/images/upload", headers=self.headers, files=parts, timeout=120
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def images(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/api/v1/images", headers=self.headers, params={"size": 500}, timeout=30
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_until_done(self, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Every image analysed and compared (or failed), and the worker's queue drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.images()
            if all(i["status"] in _DONE for i in found):
                return found
            time.sleep(0.25)
        raise AssertionError(f"the server did not finish in {timeout:.0f} s: {self.images()}")


@contextmanager
def serve(workdir: Path, repo: Path | None = None, **env: str) -> Iterator[Server]:
    """The service in its own process (embedded mode, models off unless ``env`` says), signed
    in as a fresh person. ``TMPDIR`` is the test's own folder, so what lands there is seen.
    ``repo``: run that checkout's code (another version, for a benchmark) instead of ours."""
    port = _free_port()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    values = {
        "DUPFINDER_DATA_DIR": str(workdir / "data"),
        "DUPFINDER_SECRET_KEY": DEV_SECRET,
        "DUPFINDER_COPY_MODEL": "none",
        "DUPFINDER_OBJECT_MODEL": "none",
        "DUPFINDER_CLIP_MODEL": "none",
        "DUPFINDER_GROUPING_GATHER_SECONDS": "0",
        "TMPDIR": str(workdir / "tmp"),
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
        env=dict(os.environ, **values),
        cwd=repo,  # ``-m`` puts the working directory first on the import path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("dupfinder serve did not answer /health within 60 s")
            time.sleep(0.2)
        meter = TreeMeter(proc.pid)
        try:
            yield Server(proc, url, {}, workdir, meter).person("memory@example.com")
        finally:
            meter.stop()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
