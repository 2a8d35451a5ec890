"""Issue 11, sections 1 and 2, on a real `dupfinder serve` process: hostile pictures (tiny
files, hundreds of megabytes decoded) stay within the memory budget, memory comes back after
the burst, and a stranger's upload body is never read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import bombs
from tests.helpers import images as img
from tests.helpers.app import API, Person, make_settings, service
from tests.helpers.server_process import MIB, Server, serve

CEILING = 600 * MIB  # peak RSS above idle for any one hostile upload
SETTLED = 200 * MIB  # idle RSS after the burst, above idle before it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("memory"), DUPFINDER_WORKER_THREADS="2") as running:
        yield running


def _hostile(distinct: bool = True) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """The issue's cases. ``distinct``: the three 16-bit bombs show different pictures, so
    the test does not also time the comparison of three look-alikes (the benchmark does)."""
    shown = ("corner", "checker", "left") if distinct else ("", "", "")
    exif = bombs.png(12000, colour=0, comment="another file, the same black pixels")
    return [
        ("16-bit PNG 12000²", [("deep.png", bombs.png(12000, depth=16, fill=0x80))]),
        ("float TIFF 12000²", [("float.tif", bombs.float_tiff(12000))]),
        ("RGBA PNG 12000²", [("alpha.png", bombs.png(12000, colour=6, fill=0x40))]),
        ("GIF 10000² × 50 frames", [("frames.gif", bombs.gif(10000, 50))]),
        ("two same-size black bombs", [("black.png", bombs.png(12000)), ("black2.png", exif)]),
        (
            "three 16-bit bombs in one upload",
            [
                (f"deep{n}.png", bombs.png(12000, depth=16, fill=n, bright=shown[n - 1]))
                for n in (1, 2, 3)
            ],
        ),
    ]


def test_hostile_pictures_stay_within_the_budget_and_memory_comes_back(server: Server) -> None:
    server.upload([("warm.jpg", img.jpeg(1, (640, 480)))])  # imports and caches, then idle
    server.wait_until_done()
    # `dupfinder serve` analyses in child processes: their memory is counted with its own.
    assert len(server.processes()) > 1
    idle, _ = server.memory()
    peaks, found = {}, {}
    for n, (name, files) in enumerate(_hostile()):
        person = server.person(f"hostile{n}@example.com")  # compared with their own only
        server.reset_peak()
        person.upload(files)
        found.update({i["filename"]: i for i in person.wait_until_done()})
        peaks[name] = server.memory()[1] - idle
    shown = {name: f"{peak / MIB:.0f} MiB" for name, peak in peaks.items()}
    print(f"idle {idle / MIB:.0f} MiB; peaks above idle: {shown}")
    assert all(peak <= CEILING for peak in peaks.values()), shown
    settled, _ = server.memory()
    print(f"after the burst: {settled / MIB:.0f} MiB")
    assert settled - idle <= SETTLED, f"idle {idle / MIB:.0f} MiB, after {settled / MIB:.0f} MiB"

    for name in ("deep.png", "frames.gif", "black.png", "black2.png", "deep1.png"):
        assert found[name]["status"] == "ready", found[name]
    for name in ("float.tif", "alpha.png"):  # colour or float at 12000²: 549 MiB to decode
        assert found[name]["status"] == "failed"
        assert "549.3 MiB, over this server's limit of 512.0 MiB" in found[name]["error"]


def _post_headers(server: Server, authorization: str, length: int) -> bytes:
    host = server.url.removeprefix("http://")
    return (
        f"POST {API}/images/upload HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {authorization}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_forged_token_is_refused_before_the_body_is_read(server: Server) -> None:
    """300 MiB announced, 4 MiB sent: the answer comes at once, and nothing was written."""
    host, port = server.url.removeprefix("http://").split(":")
    head = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(_post_headers(server, "Bearer x", 300 * MIB) + head)
        try:
            for _ in range(4):
                conn.sendall(bytes(MIB))
        except OSError:
            pass  # the server answered and closed while we were still sending: fine
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    spooled = [
        p
        for folder in ("tmp", "data/tmp")
        if (server.workdir / folder).exists()
        for p in (server.workdir / folder).rglob("*")
        if p.is_file()
    ]
    assert spooled == []


def test_a_full_spool_answers_503_and_keeps_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_UPLOAD_SPOOL_MIB=1)
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "spool@example.com")
        big = bombs.png(600, colour=2, comment="x" * (700 * 1024))  # 700 KiB each
        response = person.send([("a.png", big), ("b.png", big)])
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert "retry in 30 seconds" in response.json()["detail"]
        assert person.get("/images").json()["total"] == 0
        assert len(person.upload([("a.png", big)])["images"]) == 1  # the quota came back
        assert list((tmp_path / "tmp" / "uploads").iterdir()) == []
