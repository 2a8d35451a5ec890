"""A progressive JPEG cut down to what a decode at 1/8 scale reads: its DC scans.

libjpeg decodes at 1/8 scale with a 1 x 1 inverse DCT, which reads each block's DC
coefficient and nothing else. A baseline JPEG interleaves the DC and AC coefficients; a
progressive one sends them in scans of their own (the DC first, then bands of AC coefficients,
refined bit by bit), and the decoder entropy-decodes every scan before it makes a pixel: most
of a reduced decode of a progressive photo is spent on coefficients the 1 x 1 transform never
reads. So the stream is rewritten with the file's own DC scans and, in place of its AC scans,
one scan per component that says "every AC coefficient is zero" (end-of-band runs, a few
bytes). Those zero scans must be there: with coefficients never sent, libjpeg smooths the
blocks and the pixels change; sent as zeros at full precision, they are known, and the pixels
at 1/8 scale are the file's own (tests/backend/core/test_jpeg_dc.py compares them). A
component subsampled both ways (the chroma of most photos) keeps its own AC scans: libjpeg
scales it up with a 2 x 2 inverse DCT, which reads some of them, not by upsampling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
_SOS, _DRI, _DHT = 0xDA, 0xDD, 0xC4
_PROGRESSIVE_HUFFMAN = 0xC2  # SOF2
_OTHER_FRAMES = {0xC0, 0xC1, 0xC3, *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
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


@dataclass(frozen=True)
class _Component:
    id: int
    h: int
    v: int


def dc_scans_only(data: bytes) -> bytes | None:
    """``data`` with its AC scans replaced by all-zero ones, if it is an 8-bit progressive
    Huffman JPEG; None for anything else (baseline, arithmetic coding, 12-bit, or a stream
    this reader does not follow), which is then decoded as it is. Decoded at 1/8 scale, the
    result gives the pixels ``data`` gives."""
    if not data.startswith(_SOI):
        return None
    out = [_SOI]
    pos, frame, dc_scans = 2, None, 0
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        kind = data[pos + 1]
        if kind == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if kind == _EOI[1]:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data) or kind in _OTHER_FRAMES:
            return None
        if kind == _PROGRESSIVE_HUFFMAN:
            frame = _frame(data[pos + 4 : end])
            if frame is None:
                return None
        if kind != _SOS:
            out.append(data[pos:end])
            pos = end
            continue
        if frame is None:
            return None
        in_scan = data[pos + 4]
        if length != 6 + 2 * in_scan:
            return None
        spectral_start = data[pos + 5 + 2 * in_scan]
        found = _MARKER_IN_DATA.search(data, end)
        stop = found.start() if found else len(data)
        if spectral_start == 0:  # a DC scan (first pass or refinement): kept whole
            out.append(data[pos:stop])
            dc_scans += 1
        elif in_scan != 1:
            return None  # an AC scan codes one component
        elif data[pos + 5] in _reads_ac(frame[2]):
            out.append(data[pos:stop])
        pos = stop
    if frame is None or not dc_scans:
        return None
    width, height, components = frame
    out += [_NO_RESTARTS, _EOB_TABLE]
    h_max = max(c.h for c in components)
    v_max = max(c.v for c in components)
    for c in components:
        if c.id in _reads_ac(components):
            continue
        # A scan of one component codes its blocks one by one (no MCU padding).
        across = _ceil(_ceil(width * c.h, h_max), 8)
        down = _ceil(_ceil(height * c.v, v_max), 8)
        out.append(_zero_ac_scan(c.id, across * down))
    out.append(_EOI)
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
    if any(not 1 <= c.h <= 4 or not 1 <= c.v <= 4 for c in components):
        return None
    return width, height, components


def _ceil(n: int, d: int) -> int:
    return -(-n // d)


def _reads_ac(components: list[_Component]) -> set[int]:
    """The components whose 1/8-scale decode reads AC coefficients: libjpeg scales a
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
