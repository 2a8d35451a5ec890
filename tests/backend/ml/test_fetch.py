"""Fetching a CLIP export over real HTTP from a loopback server laid out like Hugging Face."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from backend.ml.clip import ClipImageEncoder, find_clip_model
from backend.ml.fetch import FetchError, fetch_clip_export, run_fetch_command
from tests.helpers.images import photo
from tests.helpers.tiny_clip import export_files

ORG = "immich-app"
NAME = "ViT-B-32__openai"


@dataclass
class Hub:
    """What the fake hub serves: repo name → relative path → bytes, plus misbehaviour."""

    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)  # "name/path" sent short of its length
    missing_status: int = 404
    requests: list[str] = field(default_factory=list)


def make_handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hub.requests.append(self.path)
            parts = self.path.lstrip("/").split("/", 4)
            if parts[0] == "cdn" and len(parts) >= 3:  # where the redirect points
                name, rel = parts[1], "/".join(parts[2:])
            elif len(parts) == 5 and parts[0] == ORG and parts[2:4] == ["resolve", "main"]:
                name, rel = parts[1], parts[4]
                if rel.endswith(".onnx"):  # large files live on the CDN, as on the hub
                    self.send_response(302)
                    self.send_header("Location", f"/cdn/{name}/{rel}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            else:
                return self.send_error(400)
            body = hub.repos.get(name, {}).get(rel)
            if body is None:
                self.send_response(hub.missing_status)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            short = f"{name}/{rel}" in hub.truncate
            self.send_header("Content-Length", str(len(body) + (1000 if short else 0)))
            self.end_headers()
            self.wfile.write(body)  # then the connection closes (HTTP/1.0)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def hub() -> Iterator[tuple[Hub, str]]:
    state = Hub(repos={NAME: export_files(seed=0, size=32, dim=16)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/{ORG}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def test_fetch_installs_an_export_the_encoder_loads(hub: tuple[Hub, str], tmp_path: Path) -> None:
    state, base_url = hub
    models_dir = tmp_path / "models"
    seen: list[tuple[str, int, int | None]] = []

    root = fetch_clip_export(NAME, models_dir, base_url, progress=lambda *a: seen.append(a))

    assert root == models_dir / NAME == find_clip_model(models_dir, NAME)
    assert leftovers(models_dir) == [NAME]  # no staging folder left
    for rel, body in state.repos[NAME].items():
        assert (root / rel).read_bytes() == body
    assert {rel for rel, _, _ in seen} == set(state.repos[NAME])
    assert all(total == len(state.repos[NAME][rel]) for rel, _, total in seen)
    assert f"/cdn/{NAME}/visual/model.onnx" in state.requests  # the redirect was followed
    (vector,) = ClipImageEncoder(models_dir, NAME).predict([np.asarray(photo(1))])
    assert vector.shape == (16,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_refetch_replaces_the_weights_and_keeps_other_files(
    hub: tuple[Hub, str], tmp_path: Path
) -> None:
    state, base_url = hub
    models_dir = tmp_path / "models"
    root = fetch_clip_export(NAME, models_dir, base_url)
    (root / "textual").mkdir()
    (root / "textual/model.onnx").write_bytes(b"Immich's other half")
    before = ClipImageEncoder(models_dir, NAME).identity

    state.repos[NAME] = export_files(seed=5, size=32, dim=16)
    fetch_clip_export(NAME, models_dir, base_url)

    assert ClipImageEncoder(models_dir, NAME).identity != before
    assert (root / "textual/model.onnx").read_bytes() == b"Immich's other half"
    assert leftovers(models_dir) == [NAME]


@pytest.mark.parametrize("status", [404, 401])  # the hub says 401 for an unknown repository
def test_unknown_export_is_a_clear_error_and_leaves_nothing(
    hub: tuple[Hub, str], tmp_path: Path, status: int
) -> None:
    state, base_url = hub
    state.missing_status = status
    models_dir = tmp_path / "models"
    with pytest.raises(FetchError, match="no export named 'ViT-Nope__x'"):
        fetch_clip_export("ViT-Nope__x", models_dir, base_url)
    assert not models_dir.exists()  # created for the download, so removed again


def test_a_truncated_download_fails_and_leaves_nothing(
    hub: tuple[Hub, str], tmp_path: Path
) -> None:
    state, base_url = hub
    state.truncate.add(f"{NAME}/visual/model.onnx")
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "other-model").mkdir()
    with pytest.raises(FetchError, match="cut short"):
        fetch_clip_export(NAME, models_dir, base_url)
    assert leftovers(models_dir) == ["other-model"]


def test_files_that_are_not_a_model_are_refused(hub: tuple[Hub, str], tmp_path: Path) -> None:
    state, base_url = hub
    state.repos[NAME]["visual/model.onnx"] = b"<html>not a model</html>"
    models_dir = tmp_path / "models"
    with pytest.raises(FetchError, match="do not work as a CLIP image encoder"):
        fetch_clip_export(NAME, models_dir, base_url)
    assert leftovers(models_dir) == []


@pytest.mark.parametrize("bad", ["../x", "..", "immich-app/ViT-B-32__openai", ".x", ""])
def test_bad_names_are_refused_before_any_request(
    hub: tuple[Hub, str], tmp_path: Path, bad: str
) -> None:
    state, base_url = hub
    with pytest.raises(FetchError, match="not an export name"):
        fetch_clip_export(bad, tmp_path / "models", base_url)
    assert state.requests == [] and not (tmp_path / "models").exists()
    assert not (tmp_path / "x").exists()


def test_no_server_means_probably_no_internet(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="no internet access.*copy the folder"):
        fetch_clip_export(NAME, tmp_path / "models", f"http://127.0.0.1:{port}/{ORG}")
    assert not (tmp_path / "models").exists()


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}/{ORG}"
        with pytest.raises(FetchError, match="timed out"):
            fetch_clip_export(NAME, tmp_path / "models", base_url, timeout=0.3)
    assert not (tmp_path / "models").exists()


def test_run_fetch_command_exit_codes(
    hub: tuple[Hub, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base_url = hub
    assert run_fetch_command(NAME, tmp_path / "models", base_url) == 0
    err = capsys.readouterr().err
    assert "visual/model.onnx" in err and f"clip:{NAME}@" in err

    assert run_fetch_command("ViT-Nope__x", tmp_path / "models", base_url) == 1
    assert "error: there is no export named" in capsys.readouterr().err
    assert run_fetch_command("../x", tmp_path / "models", base_url) == 1
