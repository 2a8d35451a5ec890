"""Schemathesis against the running service: no input gives a server error, every answer
matches the OpenAPI description (status, body, headers, methods), signed in as a real person.

Run as its command line on the real app served by uvicorn on loopback: every check (all are
on unless the configuration turns one off; ``--checks all`` on the command line would also
override the per-operation exceptions), every phase (examples, coverage, fuzzing, stateful),
with a bounded number of examples so that it stays near a minute on two cores.
``schemathesis.toml`` beside this file lists the few per-operation exceptions, each with its
reason. DUPFINDER_SCHEMATHESIS_EXAMPLES and
DUPFINDER_SCHEMATHESIS_SEED run it longer or with another seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.config import Settings
from tests.backend.backend_scraper.conftest import LiveServer
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, service

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Loopback port 9 (discard): nothing listens, so a call that reached "Google" would fail loudly.
NOWHERE = "http://127.0.0.1:9"
# Operations that end the session under test: after them every later call would be a 401 and
# test nothing. Their own tests are in test_auth*.py.
SESSION_ENDERS = [
    "POST /api/v1/auth/logout",
    "POST /api/v1/users/me/password",
    "DELETE /api/v1/users/me",
]


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Google Photos configured (its endpoints on a closed loopback port), so its routes answer
    # as on a real deployment rather than "not configured" (503).
    return make_settings(
        data_dir,
        DUPFINDER_GOOGLE_CLIENT_ID="schemathesis.apps.example",
        DUPFINDER_GOOGLE_CLIENT_SECRET="not-a-secret",
        DUPFINDER_GOOGLE_AUTHORIZE_URL=f"{NOWHERE}/auth",
        DUPFINDER_GOOGLE_TOKEN_URL=f"{NOWHERE}/token",
        DUPFINDER_GOOGLE_REVOKE_URL=f"{NOWHERE}/revoke",
        DUPFINDER_GOOGLE_PICKER_URL=NOWHERE,
    )


@pytest.fixture
def served_live(settings: Settings) -> Iterator[tuple[TestClient, LiveServer]]:
    with service(settings) as (client, _runtime), LiveServer(client.app) as live:
        yield client, live


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    served_live: tuple[TestClient, LiveServer], runtime_dir: Path
) -> None:
    client, live = served_live
    person = Person.sign_up(client, client.app.state.runtime, "schemathesis@example.com")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live.url}/openapi.json",
        "--header",
        f"Authorization: {person.headers['Authorization']}",
        "--max-examples",
        os.environ.get("DUPFINDER_SCHEMATHESIS_EXAMPLES", "4"),
        "--seed",
        os.environ.get("DUPFINDER_SCHEMATHESIS_SEED", "20261202"),
        "--continue-on-failure",
        "--no-color",
        "--workers",
        "2",
        "--report-dir",
        str(runtime_dir),
    ]
    for name in SESSION_ENDERS:
        command += ["--exclude-name", name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=runtime_dir)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "Authentication failed" not in output, output[-5000:]  # it really was signed in
    # The session survived the run: the calls were made as the person, not as nobody.
    assert person.get("/users/me").status_code == 200


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "schemathesis"
    folder.mkdir()
    return folder


def test_a_capture_time_is_given_with_its_zone(alice: Person) -> None:
    """RFC 3339 (the spec's date-time) needs an offset; EXIF has none, so it is given as UTC.
    It was sent as 2021-06-01T12:34:56, which the spec's format does not allow."""
    body = alice.upload([("camera.jpg", img.camera_jpeg(1))])
    image = alice.get(f"/images/{body['images'][0]['id']}").json()
    assert image["taken_at"] in ("2021-06-01T12:34:56Z", "2021-06-01T12:34:56+00:00")
    assert datetime.fromisoformat(image["taken_at"]).tzinfo is not None
