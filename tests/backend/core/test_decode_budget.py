"""Decoding within a memory budget: the same pixels as a whole-picture decode, a fraction of
the memory (measured on this process: its peak RSS, reset before each decode)."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from backend.core import decode, decode_budget
from backend.core.decode import DecodeLimits, decode_full, decode_reduced, probe
from backend.core.decode_budget import GATE, MemoryGate
from backend.core.features import extract_features, pixel_digest
from backend.core.rejected import ImageRejected
from tests.helpers import bombs
from tests.helpers import images as img

MIB = 1024 * 1024


def _reference(data: bytes) -> Image.Image:
    """What the decoder gave before it was bounded: the whole picture, converted at once."""
    im = Image.open(io.BytesIO(data))
    orientation = decode._orientation(im)
    im.load()
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
        im = im.convert("RGBA")
        if im.getchannel("A").getextrema()[0] == 255:
            im = im.convert("RGB")
    elif im.mode != "RGB":
        im = im.convert("RGB")
    return decode._upright(im, orientation)


def _cases() -> dict[str, bytes]:
    base = img.photo(3, (333, 217))
    out = {}
    for mode in ("RGB", "L", "P", "1", "LA", "RGBA"):
        out[mode] = img.encode(base.convert(mode), "PNG")
    for mode in ("CMYK", "I", "F"):
        out[mode] = img.encode(base.convert(mode), "TIFF")
    see_through = base.convert("RGBA")
    see_through.putpixel((5, 5), (0, 0, 0, 10))
    out["RGBA transparent"] = img.encode(see_through, "PNG")
    out["P transparent"] = img.encode(base.convert("P"), "PNG", transparency=3)
    out["16-bit"] = img.png16(2, (333, 217))
    bright = (np.random.default_rng(1).random((217, 333)) * 3000).astype(np.float32)
    out["float over 255"] = img.encode(Image.fromarray(bright), "TIFF")
    for orientation in range(1, 9):
        out[f"orientation {orientation}"] = img.camera_jpeg(1, (333, 217), orientation)
    return out


@pytest.fixture
def narrow_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strips of a few rows, so the small pictures here are cut into many bands."""
    monkeypatch.setattr(decode, "_STRIP_PIXELS", 5000)


@pytest.mark.usefixtures("narrow_strips")
@pytest.mark.parametrize("name", list(_cases()))
def test_strips_give_the_pixels_of_a_whole_picture_decode(name: str) -> None:
    data = _cases()[name]
    whole = _reference(data)
    h = hashlib.sha256(f"{whole.mode}:{whole.width}x{whole.height}:".encode())
    h.update(whole.tobytes())
    assert pixel_digest(data) == h.hexdigest()  # the stored digests stay valid
    full = decode_full(data)
    assert (full.mode, full.tobytes()) == (whole.mode, whole.tobytes())
    if not name.startswith("orientation"):  # (JPEG is decoded reduced by libjpeg itself)
        small = decode_reduced(data, 40)[1]
        factor = max(whole.size) // 40
        assert small.tobytes() == whole.reduce(factor).tobytes()


def _rss() -> tuple[int, int]:
    """This process's resident memory now and at its peak since the last reset."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def test_a_16_bit_bomb_is_decoded_in_a_fraction_of_the_old_memory() -> None:
    data = bombs.png(6000, depth=16, fill=0x40)  # 36 MP: 69 MiB as decoded 16-bit samples
    assert len(data) < 100_000
    extract_features(img.png16(1), "warm.png", DecodeLimits())  # imports, not decoding
    Path("/proc/self/clear_refs").write_text("5")
    start, _ = _rss()
    features = extract_features(data, "scan.png", DecodeLimits())
    digest = pixel_digest(data)
    used = _rss()[1] - start
    # Before: three float64 copies (824 MiB) and a full-size RGB copy (137 MiB) on top.
    assert used < 69 * MIB + 80 * MIB, f"peak {used / MIB:.0f} MiB"
    assert features.width == 6000 and len(digest) == 64


def test_probe_reads_a_png_exif_after_the_pixels_without_decoding_them() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = bombs.png(12000, colour=6, exif_after_pixels=exif.tobytes())  # 549 MiB decoded
    Path("/proc/self/clear_refs").write_text("5")
    start, _ = _rss()
    header = probe(data, "tall.png", DecodeLimits())
    used = _rss()[1] - start
    assert (header.orientation, header.width, header.height) == (6, 12000, 12000)
    assert used < 32 * MIB, f"probe took {used / MIB:.0f} MiB"


def test_a_picture_over_the_budget_is_refused_with_its_reason() -> None:
    data = bombs.png(12000, colour=6)  # RGBA: 549 MiB decoded, over 512 MiB
    Path("/proc/self/clear_refs").write_text("5")
    start, _ = _rss()
    with pytest.raises(ImageRejected) as refused:
        extract_features(data, "huge.png", DecodeLimits())
    assert "12000×12000 pixels (144 megapixels, RGBA)" in refused.value.reason
    assert "549.3 MiB, over this server's limit of 512.0 MiB" in refused.value.reason
    with pytest.raises(ImageRejected):
        pixel_digest(data)
    assert _rss()[1] - start < 32 * MIB
    small = DecodeLimits(decode_budget=16 * MIB)
    with pytest.raises(ImageRejected, match="over this server's limit of 16.0 MiB"):
        decode_reduced(bombs.png(3000, colour=2), 256, small)


def test_threads_together_stay_within_the_budget() -> None:
    """Four threads decode 15 MiB pictures with a 40 MiB budget: at most two at once."""
    limits = DecodeLimits(decode_budget=40 * MIB)
    pictures = [bombs.png(2000, colour=2, fill=n) for n in range(8)]  # 15.3 MiB each as RGB
    GATE.peak = 0
    errors: list[BaseException] = []

    def work(chunk: list[bytes]) -> None:
        try:
            for data in chunk:
                decode_reduced(data, 256, limits)
                pixel_digest(data, limits)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(pictures[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 0 < GATE.peak <= 40 * MIB and GATE.used == 0


def _hold_for_ever(handle: Any, nbytes: int, capacity: int, holding: Any) -> None:
    """A child process that takes its part of a shared budget and keeps it."""
    gate = MemoryGate()
    gate.adopt(handle)
    with gate.hold(nbytes, capacity):
        holding.set()
        time.sleep(120)


def test_a_shared_budget_spans_processes_and_a_dead_holder_gives_back_its_part(
    tmp_path: Path,
) -> None:
    """The analysis processes share one budget: what a child holds, the parent waits for; a
    child killed while holding (the OOM killer, a decoder crash) is noticed, not waited for."""
    gate = MemoryGate()
    ctx = multiprocessing.get_context("spawn")
    holding = ctx.Event()
    child = ctx.Process(
        target=_hold_for_ever, args=(gate.share(tmp_path), 30 * MIB, 40 * MIB, holding)
    )
    child.start()
    try:
        assert holding.wait(60)
        assert gate.used == 30 * MIB
        took = threading.Event()

        def take() -> None:
            with gate.hold(30 * MIB, 40 * MIB):
                took.set()

        waiter = threading.Thread(target=take)
        waiter.start()
        assert not took.wait(1.5), "30 + 30 MiB went past a 40 MiB budget across processes"
        with gate.hold(10 * MIB, 40 * MIB):  # what still fits goes at once
            pass
        child.kill()
        assert took.wait(10), "the dead child's part was never given back"
        waiter.join()
        assert gate.used == 0
    finally:
        child.kill()
        child.join()


def _wait_for_a_part(handle: Any, nbytes: int, capacity: int, waiting: Any) -> None:
    """A child process that waits for its part of a shared budget (and is killed waiting)."""
    gate = MemoryGate()
    gate.adopt(handle)
    waiting.set()
    with gate.hold(nbytes, capacity):
        time.sleep(120)


def _die_inside_the_lock(handle: Any, inside: Any) -> None:
    """A child process that stops for ever in the middle of looking at the shared slots."""
    gate = MemoryGate()
    gate.adopt(handle)
    with decode_budget._exclusive(gate._slots[2]):
        inside.set()
        time.sleep(120)


def _in_time(action: Any, seconds: float = 10.0) -> bool:
    """Whether ``action`` returns within ``seconds`` (run on a thread, so a hang fails)."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def test_a_process_killed_while_waiting_for_the_budget_blocks_nobody(tmp_path: Path) -> None:
    """A multiprocessing condition waits for ever in ``notify`` for a waiter that was killed;
    the shared gate must not (the API process decodes through it too)."""
    gate = MemoryGate()
    ctx = multiprocessing.get_context("spawn")
    waiting = ctx.Event()
    handle = gate.share(tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold_until_told() -> None:
        with gate.hold(30 * MIB, 40 * MIB):
            held.set()
            release.wait()

    holder = threading.Thread(target=hold_until_told, daemon=True)
    holder.start()
    assert held.wait(10)
    child = ctx.Process(target=_wait_for_a_part, args=(handle, 30 * MIB, 40 * MIB, waiting))
    child.start()
    try:
        assert waiting.wait(60)
        time.sleep(1.0)  # the child is inside its wait by now
        assert gate.used == 30 * MIB
    finally:
        child.kill()
        child.join()
    release.set()
    holder.join(10)
    assert not holder.is_alive(), "giving back hung after a waiting process was killed"

    def again() -> None:
        with gate.hold(40 * MIB, 40 * MIB):
            pass

    assert _in_time(again), "the budget hung after a waiting process was killed"
    assert gate.used == 0


def test_a_process_killed_inside_the_budgets_lock_blocks_nobody(tmp_path: Path) -> None:
    gate = MemoryGate()
    ctx = multiprocessing.get_context("spawn")
    inside = ctx.Event()
    child = ctx.Process(target=_die_inside_the_lock, args=(gate.share(tmp_path), inside))
    child.start()
    try:
        assert inside.wait(60)
        child.kill()
        child.join()
    finally:
        child.kill()

    def take() -> None:
        with gate.hold(10 * MIB, 40 * MIB):
            pass

    assert _in_time(take), "the budget stayed locked by a process that was killed"
