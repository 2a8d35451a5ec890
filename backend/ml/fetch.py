"""Downloading a CLIP export from Hugging Face (``immich-app/<name>``) into the models folder.

Only what the image encoder needs is fetched (``config.json``, ``visual/preprocess_cfg.json``,
``visual/model.onnx``), from ``<base_url>/<name>/resolve/main/<path>`` with urllib. Files are
streamed into a hidden staging folder inside ``models_dir`` (same file system, so the final
rename is atomic), checked against Content-Length, loaded with ONNX Runtime, and only then
moved into place. Whatever goes wrong, the staging folder is removed and the error says what
happened and what to do.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from backend.ml.clip import EXPORT_FILES, ClipImageEncoder, validate_model_name

DEFAULT_BASE_URL = "https://huggingface.co/immich-app"
CHUNK = 1024 * 1024
USER_AGENT = "dupfinder-model-fetch"

Progress = Callable[[str, int, int | None], None]  # (relative path, bytes so far, total)


class FetchError(RuntimeError):
    """A download that did not happen; the message is meant for the person who asked."""


def export_url(base_url: str, name: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(name)}/resolve/main/{path}"


def fetch_clip_export(
    name: str,
    models_dir: Path,
    base_url: str = DEFAULT_BASE_URL,
    progress: Progress | None = None,
    timeout: float = 60,
) -> Path:
    """Downloads the export ``name`` to ``models_dir/name`` (replacing those files if it is
    there) and returns that folder; ``FetchError`` if anything fails, with nothing
    half-written left. ``progress(path, bytes so far, total or None)`` is called per chunk;
    ``timeout`` is how many seconds the server may stay silent (not the whole download)."""
    try:
        validate_model_name(name)
    except ValueError as exc:
        raise FetchError(str(exc)) from None
    created_dir = not models_dir.exists()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.fetch-", dir=models_dir))
    except OSError as exc:
        raise FetchError(f"cannot write to the models folder {models_dir}: {exc}") from exc
    try:
        job = _Job(name, models_dir, base_url, progress, timeout)
        for rel in EXPORT_FILES:
            job.download(rel, staging / name / rel)
        _check_loads(staging, name)
        return _install(staging / name, models_dir / name)
    finally:  # also on KeyboardInterrupt: no partial files stay behind
        shutil.rmtree(staging, ignore_errors=True)
        if created_dir:
            _remove_if_empty(models_dir)


@dataclass(frozen=True)
class _Job:
    name: str
    models_dir: Path
    base_url: str
    progress: Progress | None
    timeout: float

    def download(self, rel: str, dest: Path) -> None:
        url = export_url(self.base_url, self.name, rel)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        done, total = 0, None
        try:
            # urlopen follows Hugging Face's redirect to its CDN for the large files.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with _create(dest) as out:
                    while chunk := response.read(CHUNK):
                        _write(out, chunk, dest)
                        done += len(chunk)
                        if self.progress:
                            self.progress(rel, done, total)
        except FetchError:
            raise
        except urllib.error.HTTPError as exc:
            raise FetchError(_http_problem(exc, rel, self.name, self.base_url)) from None
        except http.client.IncompleteRead as exc:
            raise FetchError(_cut_short(rel, done + len(exc.partial), total)) from None
        except urllib.error.URLError as exc:
            raise FetchError(self._unreachable(url, exc.reason)) from None
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout mid-body, …
            raise FetchError(self._unreachable(url, exc)) from None
        if total is not None and done != total:
            raise FetchError(_cut_short(rel, done, total))

    def _unreachable(self, url: str, reason: object) -> str:
        host = urllib.parse.urlsplit(url).netloc
        why = "timed out" if isinstance(reason, TimeoutError) else str(reason) or repr(reason)
        return (
            f"could not download from {host} ({why}). If this machine has no internet access, "
            f"run `dupfinder models fetch-clip {self.name}` on one that has, then copy the "
            f"folder {self.name}/ it creates to {self.models_dir / self.name} here"
        )


def _create(dest: Path) -> BinaryIO:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest.open("wb")
    except OSError as exc:
        raise FetchError(f"cannot write {dest}: {exc.strerror or exc}") from None


def _write(out: BinaryIO, chunk: bytes, dest: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:  # typically a full disk
        raise FetchError(f"cannot write {dest}: {exc.strerror or exc}") from None


def _cut_short(rel: str, got: int, total: int | None) -> str:
    of = f" of {total}" if total is not None else ""
    return (
        f"the download of {rel} was cut short ({got}{of} bytes arrived); the connection "
        "dropped, try again"
    )


def _http_problem(exc: urllib.error.HTTPError, rel: str, name: str, base_url: str) -> str:
    # Hugging Face answers 401 (not 404) for a repository that does not exist, and tells
    # "no such repository" from "no such file" in X-Error-Code.
    code = exc.headers.get("X-Error-Code", "") if exc.headers else ""
    if exc.code in (401, 404) and code == "EntryNotFound":
        return (
            f"the export {name!r} has no {rel}; it does not look like a CLIP export "
            "(CLIP exports have visual/model.onnx)"
        )
    if exc.code in (401, 404):
        return (
            f"there is no export named {name!r} at {base_url} (HTTP {exc.code} for {rel}); "
            "check the spelling, e.g. ViT-B-32__openai (the list is at "
            "https://huggingface.co/immich-app)"
        )
    if exc.code == 429 or exc.code >= 500:
        return f"{base_url} is busy or failing (HTTP {exc.code} for {rel}); try again later"
    return f"{base_url} refused the download of {rel} (HTTP {exc.code} {exc.reason})"


def _check_loads(staging: Path, name: str) -> None:
    """Parses the configs and runs the encoder once on a blank image."""
    try:
        json.loads((staging / name / "config.json").read_text(encoding="utf-8"))
        encoder = ClipImageEncoder(staging, name, threads=1, batch_size=1)
        (vector,) = encoder.predict([np.zeros((32, 32, 3), dtype=np.uint8)])
    except Exception as exc:  # ONNX Runtime's own exception types included
        raise FetchError(
            f"the files of {name!r} arrived but do not work as a CLIP image encoder: {exc}. "
            "(If it is one of the large exports, its weights are in extra files this command "
            "does not fetch: copy the model's folder from an Immich machine-learning cache.)"
        ) from None
    if not np.all(np.isfinite(vector)):
        raise FetchError(f"the model {name!r} loads but gives non-finite embeddings")


def _install(staged: Path, dest: Path) -> Path:
    """Moves the staged export into place: one rename for a new folder; for an existing one
    (it may hold Immich's textual/ half too), each file replaced atomically, weights last."""
    try:
        if not dest.exists():
            os.rename(staged, dest)
            return dest
        for rel in EXPORT_FILES:  # model.onnx is last: the identity changes only with it
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / rel, dest / rel)
        return dest
    except OSError as exc:
        raise FetchError(f"cannot move the download into {dest}: {exc}") from exc


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (it worked, or holds other models): keep it


def run_fetch_command(name: str, models_dir: Path, base_url: str = DEFAULT_BASE_URL) -> int:
    """``dupfinder models fetch-clip NAME``: progress on stderr; 0 when done, 1 with the
    reason otherwise."""
    shown: dict[str, int] = {}

    def report(rel: str, done: int, total: int | None) -> None:
        # A line per file per tenth (or per 50 MB when the size is unknown), and at the end.
        step = max(total // 10, 1) if total else 50 * 1024 * 1024
        finished = total is not None and done >= total
        if finished or done // step > shown.get(rel, -1):
            shown[rel] = done // step
            size = f"{done / 1e6:.1f}" + (f" / {total / 1e6:.1f}" if total else "")
            print(f"  {rel}: {size} MB", file=sys.stderr, flush=True)

    print(f"fetching CLIP export {name} from {base_url} …", file=sys.stderr, flush=True)
    try:
        root = fetch_clip_export(name, models_dir, base_url, progress=report)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was kept", file=sys.stderr)
        return 1
    identity = ClipImageEncoder(models_dir, name).identity
    print(f"done: {root} ({identity})", file=sys.stderr)
    return 0
