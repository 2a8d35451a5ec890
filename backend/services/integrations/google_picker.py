"""The Google Photos Picker API (https://developers.google.com/photos/picker): sessions, the
picked media items and their bytes, with the failures Google documents handled here: 401
(refresh once, retry), 429 and 5xx (back off, honouring Retry-After), RESOURCE_EXHAUSTED on a
new session (too many open), an expired ``baseUrl`` (403/404: the caller lists again)."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from backend.services.integrations.google import Credentials

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API's maximum
MAX_ATTEMPTS = 5
MAX_WAIT = 60.0  # seconds, whatever Retry-After says


class GoogleBusy(Exception):
    """429 or 5xx after every retry, or Google unreachable: try the whole step again later."""


class TooManySessions(Exception):
    """RESOURCE_EXHAUSTED on creating a session: the person has too many open."""


class PickingUnfinished(Exception):
    """FAILED_PRECONDITION on listing: the person has not finished picking."""


class SessionGone(Exception):
    """404 on a session: Google no longer knows it (deleted, or long expired)."""


class UntrustedAddress(Exception):
    """A ``baseUrl`` outside Google's content hosts: the token is not sent there."""


class BytesGone(Exception):
    """403/404 on a ``baseUrl``: it expired (60 minutes) or the item is gone."""


@dataclass(frozen=True)
class PickerSession:
    id: str
    picker_uri: str
    media_items_set: bool
    poll_seconds: float
    timeout_seconds: float | None


@dataclass(frozen=True)
class MediaItem:
    id: str
    type: str
    base_url: str
    mime_type: str
    filename: str
    create_time: datetime | None
    camera_make: str | None
    camera_model: str | None

    @property
    def is_photo(self) -> bool:
        return self.type == "PHOTO" and not self.mime_type.startswith("video/")


def duration(value: Any, default: float | None) -> float | None:
    """Protobuf JSON durations: "5s", "1799.5s"."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return default
    return default


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _status(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except ValueError:
        return ""
    return str(error.get("status", "")) if isinstance(error, dict) else ""


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class PickerClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_download: int = 100 * 2**20,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.credentials = credentials
        self.backoff = backoff
        self.sleep = sleep
        self.max_download = max_download
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PickerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        exhausted_is_final: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        """One call with the person's token: a 401 refreshes once; 429 and 5xx back off and
        retry (Retry-After wins). Returns the final response (maybe 4xx) for the caller."""
        refreshed = False
        attempt = 0
        while True:
            token = self.credentials.access_token()
            try:
                request = self.http.build_request(
                    method, url, params=params, headers={"Authorization": f"Bearer {token}"}
                )
                response = self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                response = None
                problem = type(exc).__name__
            if response is not None and stream and response.status_code >= 400:
                response.read()  # an error's body is small; the connection goes back
                response.close()
            if response is not None:
                if response.status_code == 401 and not refreshed:
                    refreshed = True
                    self.credentials.refresh()
                    continue
                if response.status_code == 429 and exhausted_is_final:
                    if _status(response) == "RESOURCE_EXHAUSTED" and not retry_after(response):
                        raise TooManySessions()
                if response.status_code != 429 and response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                raise GoogleBusy(f"Google Photos is busy or unreachable ({problem})")
            wait = retry_after(response) if response is not None else None
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1)
            log.info("Google Photos answered %s; retrying in %.1f s", problem, wait)
            self.sleep(min(wait, MAX_WAIT))

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            status = _status(response)
            if status == "FAILED_PRECONDITION":
                raise PickingUnfinished()
            if response.status_code == 404:
                raise SessionGone()
            raise GoogleBusy(
                f"Google Photos answered HTTP {response.status_code} {status}".rstrip()
            )
        body: dict[str, Any] = response.json()
        return body

    def create_session(self, retry_exhausted: bool = False) -> PickerSession:
        response = self._send(
            "POST", f"{self.base}/v1/sessions", exhausted_is_final=not retry_exhausted
        )
        return _session(self._json(response))

    def get_session(self, session_id: str) -> PickerSession:
        return _session(self._json(self._send("GET", f"{self.base}/v1/sessions/{session_id}")))

    def delete_session(self, session_id: str) -> None:
        """Google asks apps to delete sessions they are done with; a 404 is already gone."""
        response = self._send("DELETE", f"{self.base}/v1/sessions/{session_id}")
        if response.status_code >= 400 and response.status_code != 404:
            raise GoogleBusy(f"Google Photos answered HTTP {response.status_code}")

    def media_items(self, session_id: str) -> Iterator[MediaItem]:
        """Every picked item, page after page."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"sessionId": session_id, "pageSize": PAGE_SIZE}
            if token:
                params["pageToken"] = token
            body = self._json(self._send("GET", f"{self.base}/v1/mediaItems", params))
            for raw in body.get("mediaItems") or []:
                yield _item(raw)
            token = body.get("nextPageToken")
            if not token:
                return

    def trusted(self, url: str) -> bool:
        """Whether the person's token may go to ``url``: Google's content hosts over https
        (``*.googleusercontent.com``), or the Picker API's own origin."""
        parts = urlsplit(url)
        own = urlsplit(self.base)
        if (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
            return True
        host = parts.hostname or ""
        return parts.scheme == "https" and host.endswith(".googleusercontent.com")

    def download(self, item: MediaItem) -> bytes | None:
        """The original bytes (``baseUrl=d``, with the bearer token); None when over the size
        limit. Raises ``BytesGone`` when the baseUrl has expired."""
        if not self.trusted(item.base_url):
            raise UntrustedAddress()
        response = self._send("GET", item.base_url + "=d", stream=True)
        try:
            if response.status_code in (403, 404):
                raise BytesGone()
            if response.status_code >= 400:
                raise GoogleBusy(f"Google Photos answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_download:
                    return None  # not read beyond the limit
                chunks.append(chunk)
            return b"".join(chunks)
        except httpx.TransportError as exc:
            problem = type(exc).__name__
            raise GoogleBusy(f"the download from Google Photos broke off ({problem})") from None
        finally:
            response.close()


def _session(body: dict[str, Any]) -> PickerSession:
    polling = body.get("pollingConfig") or {}
    return PickerSession(
        id=str(body["id"]),
        picker_uri=str(body.get("pickerUri") or ""),
        media_items_set=bool(body.get("mediaItemsSet")),
        poll_seconds=duration(polling.get("pollInterval"), 5.0) or 5.0,
        timeout_seconds=duration(polling.get("timeoutIn"), None),
    )


def _item(raw: dict[str, Any]) -> MediaItem:
    media = raw.get("mediaFile") or {}
    meta = media.get("mediaFileMetadata") or {}
    return MediaItem(
        id=str(raw["id"]),
        type=str(raw.get("type") or "TYPE_UNSPECIFIED"),
        base_url=str(media.get("baseUrl") or ""),
        mime_type=str(media.get("mimeType") or ""),
        filename=str(media.get("filename") or ""),
        create_time=_time(raw.get("createTime")),
        camera_make=meta.get("cameraMake") or None,
        camera_model=meta.get("cameraModel") or None,
    )
