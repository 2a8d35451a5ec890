"""With no secret configured, each data folder gets its own random key: never a public one."""

from __future__ import annotations

import stat
from pathlib import Path

from fastapi.testclient import TestClient

from backend.config.settings import DEV_SECRET
from backend.main import create_app
from backend.runtime import build_runtime
from backend.services.security import create_access_token
from tests.helpers.app import make_settings, register, token


def test_a_random_key_is_made_once_per_data_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_SECRET_KEY="")
    runtime = build_runtime(settings)
    try:
        key_file = tmp_path / "secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert settings.secret_key == key and len(key) >= 32 and key != DEV_SECRET
        with TestClient(create_app(settings, runtime)) as client:
            assert register(client, "kim@example.com").status_code == 202
            good = token(client, "kim@example.com").json()["access_token"]
            forged = create_access_token(1, 1, DEV_SECRET, 10)
            me = "/api/v1/users/me"
            assert client.get(me, headers={"Authorization": f"Bearer {good}"}).status_code == 200
            assert client.get(me, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    finally:
        runtime.close()
    again = make_settings(tmp_path, DUPFINDER_SECRET_KEY="")
    assert again.ensure_secret_key() == key  # tokens survive a restart
