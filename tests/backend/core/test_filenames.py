"""File names that disguise themselves are refused (names sent to us) or neutralised (names
we only read); control characters never reach a page, a log or an export."""

from __future__ import annotations

import pytest

from backend.core.filenames import BIDI_CONTROLS, checked_filename, clean_filename, shown_name
from backend.core.rejected import ImageRejected
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


class TestCleanFilename:
    @pytest.mark.parametrize(
        "name",
        ["../../etc/passwd", "a/b.jpg", "..\\x.jpg", "/abs.jpg", "C:\\photos\\x.jpg", "..", "."],
    )
    def test_paths_are_refused(self, name: str) -> None:
        with pytest.raises(ImageRejected, match="path"):
            clean_filename(name)

    @pytest.mark.parametrize("name", ["", "   ", "a\x00.jpg"])
    def test_empty_or_nul(self, name: str) -> None:
        with pytest.raises(ImageRejected):
            clean_filename(name)

    def test_control_characters(self) -> None:
        with pytest.raises(ImageRejected, match="control"):
            clean_filename("bad\x1bname.jpg")

    def test_too_long(self) -> None:
        with pytest.raises(ImageRejected, match="255"):
            clean_filename("é" * 200 + ".jpg")

    def test_ordinary_names_kept_and_normalised(self) -> None:
        assert clean_filename("  Été 2021 (1).JPG ") == "Été 2021 (1).JPG"
        assert clean_filename("e\u0301.jpg") == "\u00e9.jpg"  # NFC
        assert clean_filename("..hidden.jpg") == "..hidden.jpg"
