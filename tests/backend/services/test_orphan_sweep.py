"""The sweep reclaims stored files that no image refers to (a crash between storing an upload
and committing its row left 272 of them, never reclaimed), but only once they are old: an
upload stores its blob before its row commits, so a young orphan may be one still arriving."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from backend.config import Settings
from backend.runtime import Runtime
from backend.services.storage.blobstore import (
    LocalBlobStore,
    StoredBlob,
    content_key,
    thumbnail_key,
)
from backend.services.storage.cleanup import sweep_orphans
from backend.services.worker.sweeper import Sweeper
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings

DAY = 86400.0


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # The runtime's own sweep stays out of the way: these tests sweep when they choose.
    return make_settings(data_dir, DUPFINDER_SWEEP_SECONDS=3600)


def _local(runtime: Runtime) -> LocalBlobStore:
    store = runtime.ctx.store
    assert isinstance(store, LocalBlobStore)
    return store


def _age(store: LocalBlobStore, key: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(store.root / key, (then, then))


def _crash_leftovers(store: LocalBlobStore, owner: int) -> dict[str, str]:
    """What a crash mid-upload leaves: blobs whose rows never committed, a half-written file."""
    keys = {
        "old orphan": content_key(owner, "ab" * 32),
        "old thumbnail": thumbnail_key(owner, 99999),
        "young orphan": content_key(owner, "cd" * 32),  # an upload still arriving
    }
    for key in keys.values():
        store.put(key, img.jpeg(7))
    half = store.root / "originals" / str(owner) / "ab" / ".tmp-crashed"
    half.write_bytes(b"half a photo")
    keys["half-written"] = half.relative_to(store.root).as_posix()
    for name in ("old orphan", "old thumbnail", "half-written"):
        _age(store, keys[name], 2 * DAY)
    return keys


def test_old_unreferenced_blobs_go_young_and_referenced_ones_stay(
    runtime: Runtime, alice: Person
) -> None:
    ctx, store = runtime.ctx, _local(runtime)
    body = alice.upload([("kept.jpg", img.jpeg(1))])
    image_id = body["images"][0]["id"]
    owner = alice.get("/users/me").json()["id"]
    kept = [b.key for b in store.stored()]  # the photo and its thumbnail
    assert len(kept) == 2
    for key in kept:
        _age(store, key, 3 * DAY)  # referenced: age does not matter
    leftovers = _crash_leftovers(store, owner)

    removed = sweep_orphans(ctx, grace_seconds=DAY)

    assert removed == 3
    left = {b.key for b in store.stored()}
    assert left == {*kept, leftovers["young orphan"]}
    assert alice.get(f"/images/{image_id}/file").content == img.jpeg(1)
    assert alice.get(f"/images/{image_id}/thumbnail").status_code == 200
    assert sweep_orphans(ctx, grace_seconds=DAY) == 0  # idempotent


def test_a_blob_written_again_after_the_listing_is_kept(runtime: Runtime, alice: Person) -> None:
    """The same bytes uploaded anew rewrite the blob: its new time saves it, even if the
    sweep had listed it as old a moment before."""
    store = _local(runtime)
    key = content_key(1, "ef" * 32)
    store.put(key, img.jpeg(3))
    _age(store, key, 2 * DAY)
    listed = list(store.stored())
    store.put(key, img.jpeg(3))  # a new upload of the same photo, its row not committed yet

    class Listed(LocalBlobStore):
        def stored(self) -> Iterator[StoredBlob]:
            return iter(listed)

    assert sweep_orphans(replace(runtime.ctx, store=Listed(store.root)), grace_seconds=DAY) == 0
    assert store.exists(key)


def test_the_periodic_sweep_reclaims_orphans_at_its_own_pace(
    runtime: Runtime, alice: Person
) -> None:
    ctx, store = runtime.ctx, _local(runtime)
    owner = alice.get("/users/me").json()["id"]
    leftovers = _crash_leftovers(store, owner)
    sweeper = Sweeper(lambda: ctx, every=60, broker_url="")
    sweeper.sweep_once()
    left = {b.key for b in store.stored()}
    assert leftovers["old orphan"] not in left and leftovers["half-written"] not in left
    assert leftovers["young orphan"] in left
    # Listing the whole store is costly: not again until orphan_sweep_seconds have passed.
    store.put(leftovers["old orphan"], b"again")
    _age(store, leftovers["old orphan"], 2 * DAY)
    sweeper.sweep_once()
    assert store.exists(leftovers["old orphan"])


def test_blobs_and_their_folders_are_private(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "data" / "blobs")
    store.put(content_key(1, "ab" * 32), b"photo")
    for folder in (tmp_path / "data", store.root, store.root / "originals" / "1" / "ab"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    blob = store.root / content_key(1, "ab" * 32)
    assert blob.stat().st_mode & 0o777 == 0o600
