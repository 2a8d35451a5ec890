"""Receiving an upload's files: read only once its sender is known, spooled to the data
directory's own temporary folder under a quota, handed on one file in memory at a time.

FastAPI parses an ``UploadFile`` body before it runs any dependency, so a route declaring one
would write a stranger's gigabytes to the system temp folder before refusing the token. The
upload route declares no body: its dependencies (the sign-in check among them) run first, and
then it streams the body through :func:`receive_files`.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from backend.services.errors import AppError, Invalid
from backend.services.ingestion.upload import IncomingFile

if TYPE_CHECKING:  # a TypedDict the package declares for type checkers only
    from python_multipart.multipart import MultipartCallbacks

FIELD = b"files"
RETRY_SECONDS = 30
# A text field (the scraper's ``items`` document) is held in memory: bounded like Starlette's
# own limit on a form field, so the answer to the scraped route's largest batch stays the same.
MAX_FIELD_BYTES = 1024 * 1024
# The upload body as OpenAPI describes it (the route reads it itself, after the sign-in check).
_FILES = {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}}
_FORM = {"type": "object", "required": ["files"], "properties": {"files": _FILES}}
UPLOAD_BODY: dict[str, object] = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _FORM}}}
}


class FieldTooLarge(AppError):
    status_code = 413

    def __init__(self, name: str) -> None:
        super().__init__(f"the field '{name}' is over {MAX_FIELD_BYTES // 1024} KiB")


class SpoolFull(AppError):
    """Every byte the spool may hold is taken by uploads in progress: try again shortly."""

    status_code = 503

    def __init__(self, quota: int) -> None:
        super().__init__(
            f"the server is receiving as many uploads as it can hold ({quota / 2**20:.0f} MiB); "
            f"retry in {RETRY_SECONDS} seconds"
        )
        self.headers = {"Retry-After": str(RETRY_SECONDS)}


class Spool:
    """The bytes of the uploads being received, counted against a quota (per process: each
    API process has its own share of the folder)."""

    def __init__(self, folder: Path, quota: int) -> None:
        self.folder = folder
        self.quota = quota
        self.used = 0
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> None:
        with self._lock:
            if self.used + nbytes > self.quota:
                raise SpoolFull(self.quota)
            self.used += nbytes

    def give_back(self, nbytes: int) -> None:
        with self._lock:
            self.used -= nbytes


_SPOOLS: dict[Path, Spool] = {}
_SPOOLS_LOCK = threading.Lock()


def spool_for(folder: Path, quota: int) -> Spool:
    """The process's one spool for this folder (every request of every app shares its quota)."""
    with _SPOOLS_LOCK:
        spool = _SPOOLS.get(folder)
        if spool is None or spool.quota != quota:
            spool = _SPOOLS[folder] = Spool(folder, quota)
        return spool


@dataclass
class _Part:
    filename: str
    file: IO[bytes]
    size: int = 0
    too_large: bool = False


@dataclass
class Received:
    """The files of one request, on disk until they are read."""

    parts: list[_Part] = field(default_factory=list)
    fields: dict[str, bytes] = field(default_factory=dict)  # the text fields asked for

    def incoming(self) -> Iterator[IncomingFile]:
        """One file in memory at a time; a file over the size limit comes without its bytes."""
        for part in self.parts:
            part.file.seek(0)
            data = None if part.too_large else part.file.read()
            part.file.close()
            yield IncomingFile(part.filename, data)


class _Receiver:
    """Multipart callbacks: each ``files`` part into its own unnamed file in the spool."""

    def __init__(
        self, spool: Spool, max_files: int, max_file_bytes: int, fields: Collection[str]
    ) -> None:
        self.spool = spool
        self.fields = {name.encode() for name in fields}
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.received = Received()
        self.taken = 0
        self.sent = 0
        self._field = bytearray()
        self._disposition = bytearray()  # the only part header we need
        self._part: _Part | None = None
        self._text: tuple[str, bytearray] | None = None  # the text field being read

    def on_part_begin(self) -> None:
        self._disposition.clear()
        self._part = None
        self._text = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition += data[start:end]

    def on_header_end(self) -> None:
        self._field.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(bytes(self._disposition))
        name = params.get(b"name", b"")
        if name in self.fields and b"filename" not in params:
            self._text = (name.decode(), bytearray())
            return
        if name != FIELD or b"filename" not in params:
            return  # another form field: not ours
        self.sent += 1
        if self.sent > self.max_files:
            return  # counted for the answer, never stored
        # Unnamed (O_TMPFILE where the system has it): nothing is left behind by a crash.
        handle = tempfile.TemporaryFile(dir=self.spool.folder)
        self._part = _Part(params[b"filename"].decode("utf-8", "replace"), handle)
        self.received.parts.append(self._part)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            name, text = self._text
            if len(text) + end - start > MAX_FIELD_BYTES:
                raise FieldTooLarge(name)
            text += data[start:end]
            return
        part = self._part
        if part is None or part.too_large:
            return
        size = end - start
        if part.size + size > self.max_file_bytes:
            part.too_large = True  # its bytes are dropped; the reason is given per file
            part.file.truncate(0)
            self.spool.give_back(part.size)
            self.taken -= part.size
            return
        self.spool.take(size)
        self.taken += size
        part.size += size
        part.file.write(data[start:end])

    def on_part_end(self) -> None:
        if self._text is not None:
            name, text = self._text
            self.received.fields[name] = bytes(text)  # the last one sent wins, as in Starlette
        self._part = None
        self._text = None

    def close(self) -> None:
        for part in self.received.parts:
            part.file.close()
        self.spool.give_back(self.taken)
        self.taken = 0


@asynccontextmanager
async def receive_files(
    request: Request,
    spool: Spool,
    max_files: int,
    max_file_bytes: int,
    fields: Collection[str] = (),
) -> AsyncIterator[Received]:
    """The request's ``files`` parts, spooled; every spooled byte is freed when the block ends.
    ``fields``: text fields to keep too; when some are asked for, ``files`` may be absent."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Invalid("send the images as multipart/form-data in the field 'files'")
    spool.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    receiver = _Receiver(spool, max_files, max_file_bytes, fields)
    events = ("part_begin", "header_field", "header_value", "header_end", "headers_finished")
    callbacks = {
        f"on_{e}": getattr(receiver, f"on_{e}") for e in (*events, "part_data", "part_end")
    }
    parser = MultipartParser(boundary, cast("MultipartCallbacks", callbacks))
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise Invalid(f"the upload is not valid multipart/form-data ({exc})") from exc
        if not receiver.received.parts and not fields:
            raise Invalid("no file was sent: attach the images in the field 'files'")
        if receiver.sent > max_files:
            raise Invalid(f"{receiver.sent} files sent; send at most {max_files} per request")
        yield receiver.received
    finally:
        receiver.close()


def spool_folder(data_dir: Path) -> Path:
    """Where uploads wait while they are received: the data directory's own, not /tmp."""
    return data_dir / "tmp" / "uploads"
