"""`dupfinder serve` analyses in child processes at a lower priority, and they never outlive
it: stopped with it on Ctrl-C, ended by themselves when it is killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.helpers import images as img
from tests.helpers.server_process import Server, serve


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _running(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _analysed(server: Server) -> list[int]:
    """After one photo is analysed: the analysis processes under the server."""
    server.upload([("a.jpg", img.jpeg(71, (480, 360))), ("b.jpg", img.jpeg(71, (480, 360)))])
    assert {i["status"] for i in server.wait_until_done(120)} == {"ready"}
    children = [pid for pid in server.processes() if pid != server.proc.pid]
    assert children, "serve analysed in its own process"
    return children


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _running(pids)


def test_children_run_at_a_lower_priority_and_end_when_serve_is_killed(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        children = _analysed(server)
        workers = [pid for pid in children if _nice(pid) == _nice(server.proc.pid) + 10]
        assert len(workers) >= 2  # image work and grouping (the resource tracker is not niced)
        server.proc.kill()  # kill -9: nothing of the server's runs to stop them
        server.proc.wait()
        assert _gone(children, within=15), f"left running: {_running(children)}"


def test_ctrl_c_stops_serve_and_its_children(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        children = _analysed(server)
        # A terminal's Ctrl-C reaches every process of the group; the test's own is not in it.
        os.killpg(os.getpgid(server.proc.pid), signal.SIGINT)
        assert server.proc.wait(30) == 0
        assert _gone(children, within=15), f"left running: {_running(children)}"
