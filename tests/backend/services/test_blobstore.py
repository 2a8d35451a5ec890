"""Where the bytes live: atomic writes, keys that cannot escape, scanned files left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.services.storage.blobstore import (
    FILE_PREFIX,
    BlobNotFound,
    LocalBlobStore,
    content_key,
    thumbnail_key,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_put_get_delete(store: LocalBlobStore) -> None:
    key = content_key(3, "ab" + "0" * 62)
    assert key == f"originals/3/ab/ab{'0' * 62}"
    assert not store.exists(key)
    store.put(key, b"pixels")
    assert store.exists(key) and store.get(key) == b"pixels"
    store.put(key, b"replaced")
    assert store.get(key) == b"replaced"
    assert [p.name for p in (store.root / "originals/3/ab").iterdir()] == [key.split("/")[-1]]
    store.delete(key)
    store.delete(key)  # deleting twice is fine
    with pytest.raises(BlobNotFound):
        store.get(key)
    assert thumbnail_key(3, 9) == "thumbnails/3/9.jpg"


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd"])
def test_keys_cannot_escape_the_store(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"x")
    with pytest.raises(ValueError, match="escapes"):
        store.get(key)


def test_scanned_files_are_read_only(store: LocalBlobStore, tmp_path: Path) -> None:
    mine = tmp_path / "my photo.jpg"
    mine.write_bytes(b"precious")
    key = FILE_PREFIX + str(mine)
    assert store.exists(key) and store.get(key) == b"precious"
    with pytest.raises(ValueError, match="read-only"):
        store.put(key, b"overwrite")
    store.delete(key)
    assert mine.read_bytes() == b"precious"


def test_a_failed_write_leaves_no_temporary_file(store: LocalBlobStore) -> None:
    with pytest.raises(TypeError):
        store.put("originals/1/aa/x", "not bytes")  # type: ignore[arg-type]
    assert not store.exists("originals/1/aa/x")
    assert list((store.root / "originals/1/aa").iterdir()) == []
