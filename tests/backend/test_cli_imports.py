"""Start-up: the CLI imports what a command needs, when it runs (not web, queue or model code).

Each check runs a fresh interpreter and reads ``sys.modules`` when it is done: deterministic,
whatever the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("onnxruntime", "cv2", "celery", "fastapi", "uvicorn", "scipy", "redis", "httpx")

PROBE = """
import json, sys
from backend.cli import main
code = 0
try:
    code = main(sys.argv[1:]) if len(sys.argv) > 1 else 0
except SystemExit as exc:  # --help exits
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded(*argv: str) -> tuple[int, set[str]]:
    """The exit code of ``dupfinder argv`` run in a fresh interpreter, and the top-level
    packages it had imported by the end."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], {m.split(".")[0] for m in report["modules"]}


@pytest.mark.parametrize("argv", [(), ("--help",), ("scan", "--help")])
def test_help_imports_no_heavy_package(argv: tuple[str, ...]) -> None:
    code, modules = loaded(*argv)
    assert code == 0
    assert not modules & {*HEAVY, "sqlalchemy", "alembic", "numpy", "PIL", "pydantic"}


def test_scan_of_an_empty_folder_imports_no_heavy_package(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ("--data-dir", str(tmp_path / "state"), "scan", str(empty), "-q")
    code, first = loaded(*argv)  # creates the database
    assert code == 0
    assert not first & set(HEAVY)
    code, again = loaded(*argv)  # at the head revision: Alembic is not even loaded
    assert code == 0
    assert not again & {*HEAVY, "alembic"}
