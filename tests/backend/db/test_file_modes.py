"""The embedded database and everything beside it are private to the service's user."""

from __future__ import annotations

from pathlib import Path

from backend.runtime import Runtime
from tests.helpers import images as img
from tests.helpers.app import Person


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_sqlite_file_and_its_journal_are_0600_in_a_0700_folder(
    data_dir: Path, runtime: Runtime, alice: Person
) -> None:
    alice.upload([("a.jpg", img.jpeg(1))])  # a write: the WAL and -shm files exist now
    database = data_dir / "dupfinder.sqlite3"
    assert runtime.ctx.settings.database_url.endswith(str(database))
    files = list(data_dir.glob("dupfinder.sqlite3*"))
    assert database in files and len(files) >= 2, files
    for path in files:
        assert _mode(path) == 0o600, path
    assert _mode(data_dir) == 0o700
