"""File names safe to store and show: no characters that make a name lie about itself.

A right-to-left override (U+202E) shows ``photo<U+202E>gpj.exe`` as ``photoexe.jpg``; control
characters move a terminal's cursor or hide text. Names a person sends (uploads, imports) are
refused with the reason; names we only read (a scanned folder's files) are shown with each such
character replaced by U+FFFD, so that nothing hidden reaches a page, a log or an export.
"""

from __future__ import annotations

import unicodedata

from backend.core.rejected import ImageRejected

# Explicit direction marks, embeddings, overrides and isolates (Unicode's bidi controls).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
REPLACEMENT = "\ufffd"


def _hidden(ch: str) -> bool:
    return ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc"


def clean_filename(name: str) -> str:
    """The name to store for an uploaded file; a name that tries to be a path is refused."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise ImageRejected("the file has no name")
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ImageRejected("the file name contains a path; send the file's own name only")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ImageRejected("the file name contains control characters")
    if len(name.encode()) > 255:
        raise ImageRejected("the file name is longer than 255 bytes")
    return name


def checked_filename(name: str) -> str:
    """The name to store for a file a person sent (see ``clean_filename``), or ImageRejected
    when it holds a direction control that would disguise it."""
    name = clean_filename(name)
    if any(ch in BIDI_CONTROLS for ch in name):
        raise ImageRejected(
            "the file name contains a right-to-left override or another text-direction "
            "control, which can disguise it (e.g. a name shown as ending in .jpg that does "
            "not); rename the file"
        )
    return name


def shown_name(name: str) -> str:
    """A name we keep as it is elsewhere (a scanned file's), with every control or direction
    character replaced by U+FFFD."""
    return "".join(REPLACEMENT if _hidden(ch) else ch for ch in name)
