"""`dupfinder serve` with several API processes: they share one socket, their requests' jobs
reach the one embedded worker, and one that dies is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import images as img
from tests.helpers.server_process import Server, serve


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _api_processes(server: Server) -> list[int]:
    """The server's children that answer requests: spawned, at the server's own priority
    (the analysis processes run 10 lower; the resource tracker is no spawned child)."""
    own = _nice(server.proc.pid)
    return [
        pid
        for pid in server.processes()
        if pid != server.proc.pid and "spawn_main" in _cmdline(pid) and _nice(pid) == own
    ]


def test_two_api_processes_share_the_work_and_relay_jobs(tmp_path: Path) -> None:
    with serve(tmp_path, DUPFINDER_API_PROCESSES="2") as server:
        api = _api_processes(server)
        assert len(api) == 2, api
        assert httpx.get(f"{server.url}/health").json()["worker"] == "embedded"
        # Uploaded through whichever process accepts: analysed by the supervisor's worker.
        a = img.jpeg(72, (480, 360))
        body = server.upload([("a.jpg", a), ("a copy.jpg", a), ("b.jpg", img.jpeg(73))])
        assert len(body["images"]) == 3
        assert {i["status"] for i in server.wait_until_done(120)} == {"ready"}
        groups = httpx.get(
            f"{server.url}/api/v1/duplicates/groups",
            headers=server.headers,
            params={"tier": "exact"},
        ).json()["items"]
        assert [sorted(m["filename"] for m in g["images"]) for g in groups] == [
            ["a copy.jpg", "a.jpg"]
        ]


def test_an_api_process_that_dies_is_replaced(tmp_path: Path) -> None:
    with serve(tmp_path, DUPFINDER_API_PROCESSES="2") as server:
        first = _api_processes(server)
        time.sleep(5.5)  # past the start grace: a death now is not a failed start
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _api_processes(server)
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2 and first[0] not in now, (first, now)
        assert server.proc.poll() is None
        server.upload([("c.jpg", img.jpeg(74))])
        assert {i["status"] for i in server.wait_until_done(120)} == {"ready"}


def test_a_second_server_on_the_same_port_stops_instead_of_sharing_it(tmp_path: Path) -> None:
    # The API processes' sockets share their port with each other (SO_REUSEPORT), never with
    # another server: that one would silently get half of the connections.
    with serve(tmp_path / "first", DUPFINDER_API_PROCESSES="2") as server:
        port = server.url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "backend.cli", "serve", "--port", port],
            env=dict(os.environ, DUPFINDER_DATA_DIR=str(tmp_path / "second")),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "cannot listen on 127.0.0.1:" in second.stderr, second.stderr
        assert not (tmp_path / "second" / "dupfinder.sqlite3").exists()  # nothing was started
        assert httpx.get(f"{server.url}/health").status_code == 200
