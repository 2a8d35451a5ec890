"""Issue 11 §2 for ``POST /images/scraped``: its multipart body is read only after the sign-in
check, into the data directory's spool under its quota, never the system temp folder.

Spooled files are unnamed (gone from any listing once closed), so the test records where
every temporary file of the request was opened, wrapping the real ``tempfile.TemporaryFile``
(Starlette's form parser rolls a part over 1 MiB into one in the system temp folder)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from fastapi.testclient import TestClient

from backend.api.upload_spool import spool_folder
from backend.runtime import Runtime
from tests.helpers import bombs
from tests.helpers.app import API, Person, make_settings, service

# Over Starlette's 1 MiB in-memory part, under the 2 MiB spool quota set below.
PICTURE = bombs.png(600, colour=2, comment="x" * (1200 * 1024))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime]]:
    settings = make_settings(tmp_path_factory.mktemp("data"), DUPFINDER_UPLOAD_SPOOL_MIB=2)
    with service(settings) as pair:
        yield pair


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folder of every temporary file opened while the test runs."""
    folders: list[Path] = []
    real = tempfile.TemporaryFile

    def recording(*args: Any, **kwargs: Any) -> IO[Any]:
        folders.append(Path(kwargs.get("dir") or tempfile.gettempdir()))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", recording)
    return folders


def _form(source_id: str, data: bytes) -> dict[str, Any]:
    items = {"items": [{"source_id": source_id, "filename": f"{source_id}.png"}]}
    return {"data": {"items": json.dumps(items)}, "files": [("files", (source_id, data))]}


def test_a_forged_token_is_refused_before_the_body_is_read(
    served: tuple[TestClient, Runtime], opened: list[Path]
) -> None:
    client, runtime = served
    forged = {"Authorization": "Bearer x"}
    response = client.post(f"{API}/images/scraped", headers=forged, **_form("AF1Qx", PICTURE))
    assert response.status_code == 401
    assert opened == []  # neither the system temp folder nor the spool
    spool = spool_folder(runtime.ctx.settings.data_dir)
    assert not spool.exists() or list(spool.iterdir()) == []


def test_a_signed_in_post_is_spooled_in_the_data_directory_under_the_quota(
    served: tuple[TestClient, Runtime], opened: list[Path]
) -> None:
    client, runtime = served
    person = Person.sign_up(client, runtime, "scraper@example.com")
    response = person.post("/images/scraped", **_form("AF1Qok", PICTURE))
    assert response.status_code == 202, response.text
    assert [a["source_id"] for a in response.json()["accepted"]] == ["AF1Qok"]
    assert opened == [spool_folder(runtime.ctx.settings.data_dir)]

    too_much = person.post("/images/scraped", **_form("AF1Qbig", PICTURE + PICTURE))
    assert too_much.status_code == 503, too_much.text
    assert too_much.headers["Retry-After"] == "30"
    person.settle()
    assert [i["filename"] for i in person.get("/images").json()["items"]] == ["AF1Qok.png"]


def test_an_items_field_over_its_limit_is_refused(served: tuple[TestClient, Runtime]) -> None:
    client, runtime = served
    person = Person.sign_up(client, runtime, "verbose@example.com")
    huge = {"items": json.dumps({"items": [], "pad": "x" * 2**20})}
    response = person.post("/images/scraped", data=huge, files=[("files", ("a", b"x"))])
    assert response.status_code == 413
    assert response.json()["detail"] == "the field 'items' is over 1024 KiB"
