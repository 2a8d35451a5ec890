"""Building the real service for a test, and driving its API as a signed-in person."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.config.settings import DEV_SECRET
from backend.main import create_app
from backend.runtime import Runtime, build_runtime

API = "/api/v1"
PASSWORD = "correct horse battery staple"
IDLE_TIMEOUT = 60.0


# The hash pipeline alone: the synthetic pictures of tests/helpers/images.py all look alike
# to a copy-detection network (SSCD gives 0.5-0.65 between unrelated ones, real photos ~0),
# so tests of the models run on real photographs with ``MODELS_ON`` (tests/helpers/photos.py).
MODELS_OFF = {
    "DUPFINDER_COPY_MODEL": "none",
    "DUPFINDER_OBJECT_MODEL": "none",
    "DUPFINDER_CLIP_MODEL": "none",
}
MODELS_ON = {
    "DUPFINDER_COPY_MODEL": "sscd",
    "DUPFINDER_OBJECT_MODEL": "yolov4-tiny",
    "DUPFINDER_CLIP_MODEL": "none",
}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Fresh embedded settings; explicit values so the caller's environment cannot leak in."""
    values: dict[str, Any] = {
        **MODELS_OFF,
        "DUPFINDER_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "DUPFINDER_STORAGE_DIR": None,
        "DUPFINDER_STORAGE_URL": "",
        "DUPFINDER_WORKER_THREADS": 2,
        "DUPFINDER_GROUPING_GATHER_SECONDS": 0,  # tests wait for groups; no need to gather
        "DUPFINDER_SECRET_KEY": DEV_SECRET,
        "environment": "test",
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def service(settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    """The real app on a runtime the test owns (migrated database, blob store, worker)."""
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield client, runtime
    finally:
        runtime.close()


def settle(runtime: Runtime) -> None:
    """Wait until the worker has analysed and grouped everything queued. With Celery workers
    (another process) that is: no image left pending or analysed, then a moment for the
    regrouping that follows."""
    if runtime.worker is None:
        from tests.helpers.distributed import eventually, unfinished

        eventually(lambda: unfinished(runtime) == 0, IDLE_TIMEOUT, "workers did not finish")
        return
    assert runtime.worker.wait_idle(IDLE_TIMEOUT), "background work did not finish in time"
    assert runtime.worker.errors == 0, "a background task raised"


def register(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(f"{API}/auth/register", json={"email": email, "password": password})


def token(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(f"{API}/auth/token", data={"username": email, "password": password})


@dataclass
class Person:
    """A signed-in user of the API."""

    client: TestClient
    runtime: Runtime
    email: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def sign_up(cls, client: TestClient, runtime: Runtime, email: str) -> Person:
        assert register(client, email).status_code == 202
        return cls.sign_in(client, runtime, email)

    @classmethod
    def sign_in(cls, client: TestClient, runtime: Runtime, email: str) -> Person:
        response = token(client, email)
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return cls(client, runtime, email, headers)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(API + path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(API + path, headers=self.headers, **kwargs)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(API + path, headers=self.headers)

    def send(self, files: list[tuple[str, bytes]]) -> httpx.Response:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return self.post("/images/upload", files=parts)

    def upload(self, files: list[tuple[str, bytes]]) -> dict[str, Any]:
        """Upload, wait for the analysis, return the upload response body."""
        response = self.send(files)
        assert response.status_code == 202, response.text
        settle(self.runtime)
        body: dict[str, Any] = response.json()
        return body

    def settle(self) -> None:
        settle(self.runtime)

    def ids(self, upload: dict[str, Any]) -> dict[str, int]:
        return {i["filename"]: i["id"] for i in upload["images"]}

    def groups(self, tier: str | None = None) -> list[dict[str, Any]]:
        """The open groups shown, pairs in a canonical order (the API does not sort them)."""
        params = {"tier": tier} if tier else {}
        response = self.get("/duplicates/groups", params={"size": 200, **params})
        assert response.status_code == 200, response.text
        return [canonical(g) for g in response.json()["items"]]

    def group(self, group_id: int) -> dict[str, Any]:
        response = self.get(f"/duplicates/groups/{group_id}")
        assert response.status_code == 200, response.text
        return canonical(response.json())

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def canonical(group: dict[str, Any]) -> dict[str, Any]:
    pairs = sorted(group["pairs"], key=lambda p: (p["image_a"], p["image_b"]))
    return {**group, "pairs": pairs}


def names(group: dict[str, Any]) -> set[str]:
    return {i["filename"] for i in group["images"]}


def member_ids(group: dict[str, Any]) -> set[int]:
    return {i["id"] for i in group["images"]}


def together(groups: list[dict[str, Any]], a: int, b: int) -> bool:
    """Whether images ``a`` and ``b`` share any shown group."""
    return any({a, b} <= member_ids(g) for g in groups)
