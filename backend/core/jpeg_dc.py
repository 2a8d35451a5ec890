"""A progressive JPEG cut down to what a decode at 1/8 scale reads: its DC scans.

libjpeg decodes at 1/8 scale with a 1 x 1 inverse DCT, which reads each block's DC
coefficient and nothing else. A baseline JPEG interleaves the DC and AC coefficients; a
progressive one sends them in scans of their own (the DC first, then bands of AC coefficients,
refined bit by bit), and the decoder entropy-decodes every scan before it makes a pixel: most
of a reduced decode of a progressive photo is spent on coefficients the 1 x 1 transform never
reads. So the stream is rewritten with the file's own DC scans and, in place of its AC scans,
one scan per component that says "every AC coefficient is zero" (end-of-band runs, a few
bytes). Those zero scans must be there: with coefficients never sent, libjpeg-turbo smooths
the blocks and the pixels change; sent as zeros at full precision, they are known, and the
pixels at 1/8 scale are the file's own (tests/backend/core/test_jpeg_dc.py compares them). For
the same reason only a file that itself sends every coefficient to full precision is cut. A
component subsampled both ways (the chroma of most photos) keeps its own AC scans: libjpeg-
turbo scales it up with a 2 x 2 inverse DCT, which reads some of them, not by upsampling.

Only a whole, well-formed stream is cut: a truncated or damaged one is decoded as it is, and
fails as it would have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SOI, _EOI = b"\xff\xd8", 0xD9
_SOS, _DRI, _DHT = 0xDA, 0xDD, 0xC4
_PROGRESSIVE_HUFFMAN = 0xC2  # SOF2
_OTHER_FRAMES = {0xC0, 0xC1, 0xC3, *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
_MARKER = re.compile(rb"\xff+")  # a marker, after any fill bytes
# Where a scan's entropy-coded data ends: a marker, i.e. 0xFF followed by anything but a
# stuffed zero, a restart marker (part of the data) or another 0xFF (fill).
_MARKER_IN_DATA = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# The AC table of the zero scans: the end-of-band runs EOB0..EOB14 (symbols 0x00, 0x10, ...,
# 0xE0), 4 bits each; canonical codes are given in this order, so EOBr's code is r.
_EOB_TABLE_ID = 0
_EOB_TABLE = (
    bytes([0xFF, _DHT, 0, 2 + 1 + 16 + 15, 0x10 | _EOB_TABLE_ID])
    + bytes([0, 0, 0, 15] + [0] * 12)
    + bytes(r << 4 for r in range(15))
)
_NO_RESTARTS = bytes([0xFF, _DRI, 0, 4, 0, 0])
_MAX_RUN = 32767  # the longest end-of-band run one symbol codes (EOB14 and 14 bits)


@dataclass
class _Component:
    id: int
    h: int
    v: int
    # Each coefficient's precision after the scans so far: the bits still to come (-1: never
    # sent), as libjpeg keeps it to decide whether to smooth.
    bits: list[int] = field(default_factory=lambda: [-1] * 64)


def dc_scans_only(data: bytes) -> bytes | None:
    """``data`` with its AC scans replaced by all-zero ones, if it is a whole 8-bit progressive
    Huffman JPEG that sends every coefficient to full precision; None for anything else
    (baseline, arithmetic coding, 12-bit, CMYK, a truncated or damaged stream), which is then
    decoded as it is. Decoded at 1/8 scale by libjpeg-turbo, the result gives the pixels
    ``data`` gives."""
    if not data.startswith(_SOI):
        return None
    out = [_SOI]
    pos = 2
    frame: tuple[int, int, list[_Component]] | None = None
    keeps_ac: set[int] = set()  # components whose own AC scans stay (_reads_ac)
    tables: set[tuple[int, int]] = set()  # Huffman tables defined: (class, id)
    while True:
        found = _MARKER.match(data, pos)
        if found is None or found.end() >= len(data):
            return None  # not a marker where one belongs, or no EOI: damaged or cut short
        pos = found.end() - 1
        kind = data[pos + 1]
        if kind == _EOI:
            break
        if pos + 4 > len(data):
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data) or kind in _OTHER_FRAMES:
            return None
        if kind == _PROGRESSIVE_HUFFMAN:
            if frame is not None:
                return None
            frame = _frame(data[pos + 4 : end])
            if frame is None:
                return None
            keeps_ac = _reads_ac(frame[2])
        elif kind == _DHT:
            defined = _huffman_tables(data[pos + 4 : end])
            if defined is None:
                return None
            tables |= defined
        if kind != _SOS:
            out.append(data[pos:end])
            pos = end
            continue
        if frame is None or length < 8:
            return None
        ends = _MARKER_IN_DATA.search(data, end)
        if ends is None:
            return None  # the scan runs to the end of the file: cut short
        scan = _scan(data[pos + 4 : end], frame[2], tables)
        if scan is None:
            return None
        dc, component = scan
        if dc or component in keeps_ac:
            out.append(data[pos : ends.start()])
        pos = ends.start()
    if frame is None:
        return None
    width, height, components = frame
    if any(any(c.bits) for c in components):
        return None  # a coefficient left imprecise or unsent: libjpeg-turbo smooths that file
    out += [_NO_RESTARTS, _EOB_TABLE]
    h_max = max(c.h for c in components)
    v_max = max(c.v for c in components)
    for c in components:
        if c.id in keeps_ac:
            continue
        # A scan of one component codes its blocks one by one (no MCU padding).
        across = _ceil(_ceil(width * c.h, h_max), 8)
        down = _ceil(_ceil(height * c.v, v_max), 8)
        out.append(_zero_ac_scan(c.id, across * down))
    out.append(bytes([0xFF, _EOI]))
    return b"".join(out)


def _frame(header: bytes) -> tuple[int, int, list[_Component]] | None:
    """Width, height and components of an 8-bit SOF2 header (without its length)."""
    if len(header) < 6 or header[0] != 8:
        return None
    height = int.from_bytes(header[1:3], "big")
    width = int.from_bytes(header[3:5], "big")
    count = header[5]
    if not height or not width or count not in (1, 3) or len(header) != 6 + 3 * count:
        return None
    components = [
        _Component(header[6 + 3 * i], header[7 + 3 * i] >> 4, header[7 + 3 * i] & 15)
        for i in range(count)
    ]
    if len({c.id for c in components}) != count:
        return None
    if any(not 1 <= c.h <= 4 or not 1 <= c.v <= 4 for c in components):
        return None
    return width, height, components


def _huffman_tables(body: bytes) -> set[tuple[int, int]] | None:
    """The (class, id) of the tables a DHT segment defines (without its length)."""
    out: set[tuple[int, int]] = set()
    at = 0
    while at < len(body):
        if at + 17 > len(body) or body[at] >> 4 > 1 or body[at] & 15 > 3:
            return None
        symbols = sum(body[at + 1 : at + 17])
        out.add((body[at] >> 4, body[at] & 15))
        at += 17 + symbols
    return out if at == len(body) else None


def _scan(
    header: bytes, components: list[_Component], tables: set[tuple[int, int]]
) -> tuple[bool, int] | None:
    """Whether a scan (its SOS header, without the length) is a DC scan, and its first
    component; its coefficients' precision is recorded as libjpeg would. None if libjpeg
    would refuse the scan."""
    count = header[0]
    if not 1 <= count <= 4 or len(header) != 4 + 2 * count:
        return None
    by_id = {c.id: c for c in components}
    ids = [header[1 + 2 * i] for i in range(count)]
    selectors = [header[2 + 2 * i] for i in range(count)]
    start, stop, ah, al = header[-3], header[-2], header[-1] >> 4, header[-1] & 15
    if any(i not in by_id for i in ids) or stop > 63 or start > stop or al > 13:
        return None
    dc = start == 0
    if (dc and stop != 0) or (not dc and count != 1):
        return None
    if not dc and (1, selectors[0] & 15) not in tables:
        return None
    if dc and ah == 0 and any((0, s >> 4) not in tables for s in selectors):
        return None
    for i in ids:
        bits = by_id[i].bits
        for k in range(start, stop + 1):
            if ah != 0 and bits[k] != ah:
                return None  # a refinement of bits never sent
            bits[k] = al
    return dc, ids[0]


def _ceil(n: int, d: int) -> int:
    return -(-n // d)


def _reads_ac(components: list[_Component]) -> set[int]:
    """The components whose 1/8-scale decode reads AC coefficients: libjpeg-turbo scales a
    subsampled component (chroma at half the width and height) up by a larger inverse DCT
    (2 x 2 from the 8 x 8 coefficients) rather than by upsampling it afterwards."""
    h_max = max(c.h for c in components)
    v_max = max(c.v for c in components)
    return {c.id for c in components if h_max % (2 * c.h) == 0 and v_max % (2 * c.v) == 0}


def _zero_ac_scan(component: int, blocks: int) -> bytes:
    """A first AC scan of ``component`` (coefficients 1-63, full precision) in which every
    block ends at once: end-of-band runs covering ``blocks`` blocks."""
    bits = 0
    count = 0
    while blocks:
        run = min(blocks, _MAX_RUN)
        r = run.bit_length() - 1
        bits = (bits << (4 + r)) | (r << r) | (run - (1 << r))
        count += 4 + r
        blocks -= run
    pad = -count % 8
    coded = ((bits << pad) | ((1 << pad) - 1)).to_bytes((count + pad) // 8, "big")
    header = bytes([0xFF, _SOS, 0, 8, 1, component, _EOB_TABLE_ID, 1, 63, 0])
    return header + coded.replace(b"\xff", b"\xff\x00")
