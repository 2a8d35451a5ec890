"""Hostile pictures: tiny files that decode to hundreds of megabytes (written by hand, row by
row or strip by strip, so building one never holds its decoded pixels in the test)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type: samples per pixel


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(
    side: int,
    *,
    depth: int = 8,
    colour: int = 0,
    fill: int = 0,
    bright: str = "",
    comment: str = "",
    exif_after_pixels: bytes = b"",
) -> bytes:
    """A ``side``² PNG whose sample bytes are ``fill`` (colour type 0 grey, 2 RGB, 6 RGBA),
    but 255 in the ``bright`` part: "left" half, "top" half, "corner" (top-left quarter),
    "checker" (top-left and bottom-right quarters) or "middle" (the middle third of the
    columns), so bombs can differ in what they show.
    ``comment`` makes other bytes with the same pixels; ``exif_after_pixels`` puts an eXIf
    chunk after IDAT, where Pillow finds it only by decoding every pixel."""
    per_pixel = _CHANNELS[colour] * depth // 8
    dark, light = bytes([fill]) * per_pixel, b"\xff" * per_pixel
    half, third = (0, side // 2), (side // 3, 2 * side // 3)
    cut = {"left": half, "corner": half, "checker": half, "middle": third}
    lo, hi = cut.get(bright, (0, 0))
    row = b"\x00" + dark * lo + light * (hi - lo) + dark * (side - hi)
    flat = b"\x00" + dark * side
    if bright == "top":
        bands = [(b"\x00" + light * side, side // 2), (flat, side - side // 2)]
    elif bright == "corner":
        bands = [(row, side // 2), (flat, side - side // 2)]
    elif bright == "checker":  # top-left and bottom-right quarters
        other = b"\x00" + dark * (side // 2) + light * (side - side // 2)
        bands = [(row, side // 2), (other, side - side // 2)]
    else:
        bands = [(row, side)]
    header = struct.pack(">IIBBBBB", side, side, depth, colour, 0, 0, 0)
    text = _chunk(b"tEXt", b"Comment\x00" + comment.encode()) if comment else b""
    tail = _chunk(b"eXIf", exif_after_pixels) if exif_after_pixels else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + text
        + _chunk(b"IDAT", _deflate_repeated(bands))
        + tail
        + _chunk(b"IEND", b"")
    )


def _deflate_repeated(bands: list[tuple[bytes, int]]) -> bytes:
    """zlib data for each row repeated its count of times: a block of rows compressed once
    (a full flush makes it stand alone) and repeated, so a gigabyte costs a fraction of a
    second."""
    out, checksum = [b"\x78\xda"], 1
    for row, times in bands:
        per_block = max(1, (1 << 22) // len(row))
        for block, count in ((row * per_block, times // per_block), (row * (times % per_block), 1)):
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            out.append((packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)) * count)
            for _ in range(count):
                checksum = zlib.adler32(block, checksum)
    out.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush())  # the final, empty block
    return b"".join(out) + struct.pack(">I", checksum)


def float_tiff(side: int, value: float = 1000.0, rows_per_strip: int = 64) -> bytes:
    """A ``side``² 32-bit float TIFF (deflate), every full strip the same compressed bytes."""
    strips = -(-side // rows_per_strip)
    last_rows = side - rows_per_strip * (strips - 1)
    shared = zlib.compress(struct.pack("<f", value) * side * rows_per_strip, 9)
    last = zlib.compress(struct.pack("<f", value) * side * last_rows, 9)
    offsets_at = 8 + len(shared) + len(last)
    counts_at = offsets_at + 4 * strips
    ifd_at = counts_at + 4 * strips
    offsets = [8] * (strips - 1) + [8 + len(shared)]
    counts = [len(shared)] * (strips - 1) + [len(last)]
    long, short = 4, 3
    entries = [
        (256, long, 1, side),
        (257, long, 1, side),
        (258, short, 1, 32),
        (259, short, 1, 8),  # Adobe deflate
        (262, short, 1, 1),  # black is zero
        (273, long, strips, offsets_at),
        (277, short, 1, 1),
        (278, long, 1, rows_per_strip),
        (279, long, strips, counts_at),
        (339, short, 1, 3),  # IEEE floating point samples
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries
    )
    return (
        b"II*\x00"
        + struct.pack("<I", ifd_at)
        + shared
        + last
        + struct.pack(f"<{strips}I", *offsets)
        + struct.pack(f"<{strips}I", *counts)
        + ifd
        + struct.pack("<I", 0)
    )


def gif(side: int, frames: int) -> bytes:
    """A ``side``² GIF of ``frames`` full-size frames (one frame's LZW data repeated)."""
    buf = io.BytesIO()
    Image.new("P", (side, side)).save(buf, "GIF")
    single = buf.getvalue()
    pos = 13  # header and logical screen descriptor
    if single[10] & 0x80:  # a global colour table follows
        pos += 3 << ((single[10] & 7) + 1)
    while single[pos] == 0x21:  # extensions: label, then sub-blocks up to an empty one
        pos += 2
        while single[pos]:
            pos += single[pos] + 1
        pos += 1
    assert single[pos] == 0x2C, "no image descriptor where one was expected"
    body = single[pos:-1]  # descriptor and LZW sub-blocks, without the trailer
    return single[:pos] + body * frames + b"\x3b"
