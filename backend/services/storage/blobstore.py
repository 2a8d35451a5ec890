"""Where image bytes live. Keys are opaque strings; local disk is the embedded default.

Files of a folder scan are read where they are (``file:`` keys) and never copied or deleted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import quote, unquote_to_bytes

FILE_PREFIX = "file:"
READ_ONLY = "referenced files are read-only"


class BlobNotFound(FileNotFoundError):
    pass


class StoredBlob(NamedTuple):
    key: str
    modified: float  # seconds since the epoch: when it was last written


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def stored(self) -> Iterator[StoredBlob]:
        """Every blob of the store (not the ``file:`` files it only reads)."""
        ...

    def modified(self, key: str) -> float | None:
        """When ``key`` was last written, or None when it is not there."""
        ...


def private_dirs(path: Path) -> None:
    """``path`` and its missing parents, created readable by this user only (0700)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


class LocalBlobStore:
    """Folders are created 0700 and files 0600: photos are private to the service's user."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        private_dirs(self.root)

    def _path(self, key: str) -> Path:
        if key.startswith(FILE_PREFIX):
            return file_key_path(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):  # keys are ours, but never trust a path
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        if key.startswith(FILE_PREFIX):
            raise ValueError(READ_ONLY)
        path = self._path(key)
        private_dirs(path.parent)
        # Write then rename: a crash never leaves a half-written blob under the real name.
        # mkstemp creates the file 0600, and the rename keeps that.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return read_file(self._path(key), key)

    def delete(self, key: str) -> None:
        if key.startswith(FILE_PREFIX):
            return  # the user's own file: never ours to delete
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stored(self) -> Iterator[StoredBlob]:
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(folder, name)
                try:
                    modified = path.stat().st_mtime
                except FileNotFoundError:  # deleted meanwhile
                    continue
                yield StoredBlob(path.relative_to(self.root).as_posix(), modified)

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None


def file_key(path: Path) -> str:
    """The key of a file read in place: its path's bytes, percent-encoded, so that any name a
    file system allows (even one that is not valid UTF-8) is stored as plain text."""
    return FILE_PREFIX + quote(os.fsencode(path.resolve()), safe="/")


def file_key_path(key: str) -> Path:
    """The path on this machine of a ``file:`` key: the inverse of :func:`file_key`. Every store
    reads these keys from the local file system, whatever it keeps its own blobs in."""
    return Path(os.fsdecode(unquote_to_bytes(key[len(FILE_PREFIX) :])))


def read_file(path: Path, key: str) -> bytes:
    """A blob kept as a local file (``key`` names it in the error when it is missing)."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BlobNotFound(key) from exc


def content_key(owner_id: int, sha256: str) -> str:
    """Bytes are stored once per owner: the same file uploaded twice shares one blob."""
    return f"originals/{owner_id}/{sha256[:2]}/{sha256}"


def thumbnail_key(owner_id: int, image_id: int) -> str:
    return f"thumbnails/{owner_id}/{image_id}.jpg"
