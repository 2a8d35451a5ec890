"""A real `dupfinder serve` process on a free loopback port, and its memory as Linux counts it
(/proc/PID/status: VmRSS now, VmHWM the peak since the last reset through clear_refs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str]
    workdir: Path  # holds data/ (DUPFINDER_DATA_DIR) and tmp/ (TMPDIR)

    def memory(self) -> tuple[int, int]:
        """(resident now, peak since the last reset) in bytes."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024

    def person(self, email: str) -> Server:
        """The same server, signed in as a new person (each person's photos are compared
        only with their own)."""
        signup = {"email": email, "password": PASSWORD}
        assert httpx.post(f"{self.url}/api/v1/auth/register", json=signup).status_code == 202
        token = httpx.post(
            f"{self.url}/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        ).json()["access_token"]
        return Server(self.proc, self.url, {"Authorization": f"Bearer {token}"}, self.workdir)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

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
        yield Server(proc, url, {}, workdir).person("memory@example.com")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
