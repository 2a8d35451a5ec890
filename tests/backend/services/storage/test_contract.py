"""One contract for every blob store: each test runs on the local folder and on S3."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.services.storage.blobstore import (
    BlobNotFound,
    BlobStore,
    content_key,
    file_key,
    thumbnail_key,
)


def test_put_get_exists_delete(store: BlobStore) -> None:
    key = content_key(3, "ab" + "0" * 62)
    assert not store.exists(key)
    store.put(key, b"pixels")
    assert store.exists(key) and store.get(key) == b"pixels"
    store.put(key, b"replaced")
    assert store.get(key) == b"replaced"
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice, or what was never there, is fine
    store.delete(thumbnail_key(3, 404))


def test_a_missing_key_is_blob_not_found(store: BlobStore) -> None:
    key = thumbnail_key(1, 2)
    with pytest.raises(BlobNotFound) as raised:
        store.get(key)
    assert isinstance(raised.value, FileNotFoundError) and key in str(raised.value)
    assert not store.exists(key)


def test_binary_data_of_a_few_megabytes_comes_back_byte_for_byte(store: BlobStore) -> None:
    data = bytes(range(256)) * 4 + os.urandom(3 * 1024 * 1024 + 7)
    store.put("originals/1/aa/big", data)
    assert store.get("originals/1/aa/big") == data
    store.put("originals/1/aa/empty", b"")
    assert store.exists("originals/1/aa/empty") and store.get("originals/1/aa/empty") == b""


def test_keys_are_separate(store: BlobStore) -> None:
    store.put("thumbnails/1/1.jpg", b"one")
    store.put("thumbnails/1/10.jpg", b"ten")
    store.put("thumbnails/2/1.jpg", b"other owner")
    assert store.get("thumbnails/1/1.jpg") == b"one"
    store.delete("thumbnails/1/1.jpg")
    assert store.get("thumbnails/1/10.jpg") == b"ten"
    assert store.get("thumbnails/2/1.jpg") == b"other owner"


def test_concurrent_puts_from_threads(store: BlobStore) -> None:
    keys = [thumbnail_key(owner, image) for owner in range(4) for image in range(12)]

    def write_and_read(key: str) -> bytes:
        store.put(key, key.encode() * 100)
        return store.get(key)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(write_and_read, keys))
    assert results == [key.encode() * 100 for key in keys]
    assert all(store.exists(key) for key in keys)


def test_scanned_files_are_read_in_place_and_never_touched(
    store: BlobStore, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    mine = folder / "été 2021 #1.jpg"
    mine.write_bytes(b"precious")
    odd = folder / os.fsdecode(b"not-utf8-\xff.jpg")
    odd.write_bytes(b"odd name")
    key = file_key(mine)
    assert store.exists(key) and store.get(key) == b"precious"
    assert store.get(file_key(odd)) == b"odd name"
    with pytest.raises(ValueError, match="read-only"):
        store.put(key, b"overwrite")
    store.delete(key)
    assert mine.read_bytes() == b"precious"

    gone = file_key(folder / "deleted since the scan.jpg")
    assert not store.exists(gone)
    with pytest.raises(BlobNotFound):
        store.get(gone)


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd"])
def test_keys_cannot_escape_the_store(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"x")
    with pytest.raises(ValueError, match="escapes"):
        store.get(key)


def test_only_bytes_are_stored(store: BlobStore) -> None:
    with pytest.raises(TypeError):
        store.put("originals/1/aa/x", "not bytes")  # type: ignore[arg-type]
    assert not store.exists("originals/1/aa/x")


def test_the_store_lists_its_blobs_with_when_they_were_written(store: BlobStore) -> None:
    """What the orphan sweep reads: every key, and its last write time (here and on S3)."""
    before = time.time() - 120  # clocks of an S3 server and this machine differ a little
    keys = {content_key(5, "cd" + "0" * 62), thumbnail_key(5, 6)}
    for key in keys:
        store.put(key, b"x")
    listed = {b.key: b.modified for b in store.stored()}
    assert keys <= set(listed)
    for key in keys:
        assert listed[key] > before
        modified = store.modified(key)
        assert modified is not None and abs(modified - listed[key]) < 1
    store.delete(thumbnail_key(5, 6))
    assert store.modified(thumbnail_key(5, 6)) is None
    assert thumbnail_key(5, 6) not in {b.key for b in store.stored()}
