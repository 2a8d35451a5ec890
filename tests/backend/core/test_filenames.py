"""File names that disguise themselves are refused (names sent to us) or neutralised (names
we only read); control characters never reach a page, a log or an export."""

from __future__ import annotations

import pytest

from backend.core.decode import ImageRejected
from backend.core.filenames import BIDI_CONTROLS, checked_filename, shown_name
from backend.services.ingestion.folder import display_name

RLO = "\u202e"
DISGUISED = f"holiday{RLO}gpj.exe"  # shown as "holidayexe.jpg"


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_every_direction_control_is_refused_with_the_reason(control: str) -> None:
    with pytest.raises(ImageRejected) as refused:
        checked_filename(f"photo{control}.jpg")
    assert "right-to-left" in refused.value.reason and "rename" in refused.value.reason


def test_a_right_to_left_override_and_control_characters_are_refused() -> None:
    for name in (DISGUISED, "red\x1b[31m.jpg", "bell\x07.jpg", "c1\x85.jpg"):
        with pytest.raises(ImageRejected):
            checked_filename(name)


def test_ordinary_names_pass_unchanged() -> None:
    # Right-to-left scripts themselves are fine; so are joiners inside emoji sequences.
    for name in (
        "Été 2021 (1).JPG",
        "صورة.jpg",
        "תמונה.png",
        "family \U0001f468\u200d\U0001f469.jpg",
    ):
        assert checked_filename(name) == name


def test_names_we_only_read_are_shown_with_the_controls_replaced() -> None:
    assert shown_name(DISGUISED) == "holiday\ufffdgpj.exe"
    assert shown_name("a\x1b[2Jb.jpg") == "a\ufffd[2Jb.jpg"
    assert shown_name("plain.jpg") == "plain.jpg"
    # A scanned folder's file keeps its name on disk; the name stored and shown is safe.
    assert display_name(f"scan{RLO}gpj.exe") == "scan\ufffdgpj.exe"
    assert display_name("caf\udce9.jpg") == "caf\ufffd.jpg"  # Latin-1 bytes, as before
