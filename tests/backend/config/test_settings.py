"""Settings: defaults derived from the data folder, and production refuses the dev secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.config import Settings
from backend.config.settings import DEV_SECRET, default_data_dir
from tests.helpers.app import make_settings


def test_embedded_defaults(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'dupfinder.sqlite3'}"
    assert s.is_sqlite and s.blob_dir == tmp_path / "blobs"
    assert s.threads == 2
    assert s.decode_limits.max_bytes == s.max_upload_bytes
    assert s.decode_limits.max_pixels == s.max_image_pixels


def test_explicit_values_win(tmp_path: Path) -> None:
    s = make_settings(
        tmp_path,
        DATABASE_URL="postgresql+psycopg://u@h/db",
        DUPFINDER_STORAGE_DIR=str(tmp_path / "elsewhere"),
        DUPFINDER_WORKER_THREADS=0,
    )
    assert not s.is_sqlite and s.blob_dir == tmp_path / "elsewhere"
    assert s.threads >= 1


def test_empty_paths_mean_defaults(tmp_path: Path) -> None:
    s = make_settings(tmp_path, DUPFINDER_FRONTEND_DIR="", DUPFINDER_STORAGE_DIR="")
    assert s.frontend_dir is None and s.blob_dir == tmp_path / "blobs"


def test_production_needs_a_real_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="DUPFINDER_SECRET_KEY"):
        make_settings(tmp_path, environment="production")
    with pytest.raises(ValidationError, match="DUPFINDER_SECRET_KEY"):
        make_settings(tmp_path, environment="production", DUPFINDER_SECRET_KEY="short")
    ok = make_settings(tmp_path, environment="production", DUPFINDER_SECRET_KEY="x" * 40)
    assert ok.secret_key != DEV_SECRET


def test_near_distance_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_settings(tmp_path, DUPFINDER_NEAR_DISTANCE=17)


def test_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUPFINDER_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("DUPFINDER_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = Settings()
    assert s.data_dir == tmp_path / "env" and s.max_upload_bytes == 1234


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "dupfinder"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "dupfinder"
