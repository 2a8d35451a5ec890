"""The API side: a token, and batches posted with retries, backoff and a rate limit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from backend_scraper.errors import ApiError

RETRY_STATUS = (408, 409, 425, 429, 500, 502, 503, 504)


class RateLimiter:
    """At most one call per ``interval`` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock, self.last = interval, clock, float("-inf")

    def wait(self) -> None:
        delay = self.last + self.interval - self.clock()
        if delay > 0:
            time.sleep(delay)
        self.last = self.clock()


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str | None = None  # lets a long run renew its short-lived access token


def sign_in(api_url: str, email: str, password: str, timeout: float = 30.0) -> Tokens:
    """Bearer tokens for the person (POST /api/v1/auth/token)."""
    try:
        response = httpx.post(
            f"{api_url.rstrip('/')}/api/v1/auth/token",
            data={"username": email, "password": password},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise ApiError(f"the API at {api_url} could not be reached: {exc}") from None
    if response.status_code != 200:
        raise ApiError(f"signing in as {email} failed: {_detail(response)}")
    body = response.json()
    return Tokens(str(body["access_token"]), body.get("refresh_token"))


@dataclass
class Answer:
    sent: list[str] = field(default_factory=list)  # accepted (new or known)
    rejected: dict[str, str] = field(default_factory=dict)
    new: int = 0


@dataclass
class ApiClient:
    api_url: str
    token: str
    min_interval: float = 1.0  # between two posts
    retries: int = 5
    backoff: float = 1.0  # first wait; doubles each retry
    timeout: float = 120.0
    transport: httpx.BaseTransport | None = None  # tests: a fake API
    refresh_token: str | None = None  # renews ``token`` when the API says it has expired
    limiter: RateLimiter = field(init=False)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.min_interval)
        self.client = httpx.Client(
            base_url=self.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
            transport=self.transport,
        )

    def close(self) -> None:
        self.client.close()

    def send(
        self, items: list[dict[str, Any]], blobs: dict[str, bytes], renewed: bool = False
    ) -> Answer:
        """Post one batch (multipart when some items carry their bytes)."""
        document = {"items": items}
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            try:
                if blobs:
                    files = [
                        ("files", (sid, data, "application/octet-stream"))
                        for sid, data in blobs.items()
                    ]
                    response = self.client.post(
                        "/api/v1/images/scraped",
                        data={"items": json.dumps(document)},
                        files=files,
                    )
                else:
                    response = self.client.post("/api/v1/images/scraped", json=document)
            except httpx.TransportError as exc:
                problem = f"the API could not be reached ({exc})"
            else:
                if response.status_code == 202:
                    body = response.json()
                    return Answer(
                        sent=[a["source_id"] for a in body["accepted"]],
                        rejected={r["source_id"]: r["reason"] for r in body["rejected"]},
                        new=sum(1 for a in body["accepted"] if a["new"]),
                    )
                if response.status_code == 401:
                    if not renewed and self._renew():  # the same batch with the new token
                        return self.send(items, blobs, renewed=True)
                    raise ApiError(
                        "the API refused the token (expired?): sign in with --email (the "
                        "scraper then renews its token itself), or pass a fresh --token"
                    )
                if response.status_code not in RETRY_STATUS:
                    raise ApiError(f"the API refused a batch: {_detail(response)}")
                problem = f"the API answered {_detail(response)}"
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise ApiError(f"{problem}; gave up after {self.retries} retries")

    def _renew(self) -> bool:
        """A new access token from the refresh token (each refresh token works once)."""
        if not self.refresh_token:
            return False
        refresh, self.refresh_token = self.refresh_token, None
        try:
            response = self.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        except httpx.TransportError:
            return False
        if response.status_code != 200:
            return False
        body = response.json()
        self.token, self.refresh_token = body["access_token"], body["refresh_token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        return True


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:200]
    return f"{response.status_code} {detail}"
