"""Imports of whole libraries: a Google Takeout export, streamed to disk as it arrives."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import IO

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from backend.api.deps import CtxDep, CurrentUser, owner_id
from backend.api.schemas import ErrorOut
from backend.services.context import AppContext
from backend.services.errors import AppError
from backend.services.ingestion.archive import ArchiveRejected
from backend.services.ingestion.takeout import (
    NAMES_FILE,
    check_archives,
    queue_takeout,
    settings_limits,
)

router = APIRouter(prefix="/imports", tags=["imports"])
TAKEOUT_PATH = "/imports/takeout"  # its own body limit (api/limits.py)
MAX_PARTS = 200
FIELD = b"files"
_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar", ".gz", ".tbz2", ".tar.bz2", ".tar.xz")


class TakeoutOut(BaseModel):
    job_id: int
    files: list[str]  # the archives received, in the order they will be read


class _Receiver:
    """Multipart callbacks that write each file part straight to its own file on disk."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.received = 0
        self.names: list[str] = []
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._out: IO[bytes] | None = None

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        filename = params.get(b"filename")
        if filename is None or params.get(b"name") != FIELD:
            return  # another form field: nothing of ours
        if len(self.names) >= MAX_PARTS:
            raise AppError(f"more than {MAX_PARTS} archives in one request", 422)
        shown = os.path.basename(filename.decode("utf-8", "replace").replace("\\", "/"))
        suffix = next((s for s in _SUFFIXES if shown.lower().endswith(s)), "")
        self.names.append(shown or f"archive {len(self.names) + 1}")
        # Never a path from the client: our own name, the suffix only for people reading it.
        path = self.folder / f"part-{len(self.names):04d}{suffix}"
        self._out = path.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is None:
            return
        self.received += end - start
        if self.received > self.max_bytes:
            raise AppError(
                f"the archives are larger than {self.max_bytes / 2**30:.1f} GiB "
                "(DUPFINDER_MAX_TAKEOUT_BYTES); import them with `dupfinder import-takeout`",
                413,
            )
        self._out.write(data[start:end])

    def on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def close(self) -> None:
        self.on_part_end()


def _queue(ctx: AppContext, owner: int, staged: Path) -> int:
    with ctx.session(write=True) as session:
        job = queue_takeout(session, ctx.settings, owner, staged)
        assert job.id is not None
        return job.id


@router.post(
    "/takeout",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TakeoutOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                        "required": ["files"],
                    }
                }
            },
            "required": True,
        }
    },
)
async def import_takeout(request: Request, user: CurrentUser, ctx: CtxDep) -> TakeoutOut:
    """Import a Google Takeout export: the ``.zip`` / ``.tgz`` parts of one export in the
    ``files`` field (all parts together: photos and their sidecars are often in different
    parts). The archives are written to disk as they arrive and read by a background task;
    follow it at ``/jobs/{job_id}``."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise AppError("send the archives as multipart/form-data in the field 'files'", 422)
    settings = ctx.settings
    staged = settings.takeout_folder / f".incoming-{secrets.token_hex(8)}"
    staged.mkdir(parents=True, exist_ok=False)
    receiver = _Receiver(staged, settings.max_takeout_bytes)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": receiver.on_part_begin,
                "on_header_field": receiver.on_header_field,
                "on_header_value": receiver.on_header_value,
                "on_header_end": receiver.on_header_end,
                "on_headers_finished": receiver.on_headers_finished,
                "on_part_data": receiver.on_part_data,
                "on_part_end": receiver.on_part_end,
            },
        )
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise AppError(f"the upload is not valid multipart/form-data ({exc})", 422) from exc
        receiver.close()
        if not receiver.names:
            raise AppError(
                "no archive was sent: attach the Takeout .zip or .tgz file(s) in 'files'", 422
            )
        paths = sorted(p for p in staged.iterdir() if p.name.startswith("part-"))
        try:  # what can be seen at once (a zip's directory); a tar is checked as it is read
            await run_in_threadpool(check_archives, paths, settings_limits(ctx), receiver.names)
        except ArchiveRejected as exc:
            raise AppError(f"the archive was refused: {exc.reason}", 422) from exc
        (staged / NAMES_FILE).write_text(json.dumps(receiver.names))
        job_id = await run_in_threadpool(_queue, ctx, owner_id(user), staged)
    except BaseException:
        receiver.close()
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return TakeoutOut(job_id=job_id, files=receiver.names)
