"""Where image bytes live. Keys are opaque strings; local disk is the embedded default.

Files of a folder scan are read where they are (``file:`` keys) and never copied or deleted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote_to_bytes

FILE_PREFIX = "file:"
READ_ONLY = "referenced files are read-only"


class BlobNotFound(FileNotFoundError):
    pass


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

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
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written blob under the real name.
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
