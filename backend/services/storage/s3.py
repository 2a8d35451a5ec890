"""Blobs in an S3 bucket (AWS or any S3-compatible server: MinIO, Ceph, R2, ...), so that
workers on several machines share one store.

Configured by URL, never with credentials in it::

    s3://BUCKET/optional/prefix?endpoint_url=http://host:9000&region=us-east-1&addressing_style=path

Credentials, and anything else not in the URL, come from boto3's standard chain: the
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` variables,
``AWS_PROFILE`` and ``~/.aws``, web identity, container or instance roles. Transient faults
(throttling, 5xx, dropped connections) are retried by botocore's ``standard`` retry mode
(``AWS_MAX_ATTEMPTS`` sets the attempts, 3 by default). Some S3-compatible servers reject the
checksums recent boto3 sends by default: ``AWS_REQUEST_CHECKSUM_CALCULATION=when_required``.

The credentials need ``s3:ListBucket`` on the bucket as well as Get/Put/DeleteObject: without
it S3 answers 403 rather than 404 for a missing key, and that error is raised as it is.

``file:`` keys (files of a folder scan) are read from this machine's file system, exactly as
:class:`~backend.services.storage.blobstore.LocalBlobStore` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, cast, get_args
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import create_loader

from backend.services.storage.blobstore import (
    FILE_PREFIX,
    READ_ONLY,
    BlobNotFound,
    StoredBlob,
    file_key_path,
    read_file,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AddressingStyle = Literal["auto", "virtual", "path"]
URL_OPTIONS = ("endpoint_url", "region", "addressing_style")
# How S3 says "no such key": get_object names it, head_object (which has no body) gives only
# the status.
MISSING = {"NoSuchKey", "404", "NotFound"}
# One connection per worker thread, up to this many at once (botocore's default is 10).
POOL_CONNECTIONS = 32
# botocore's service descriptions (read-only JSON, slow to parse) are read once per process.
_LOADER = create_loader()


class S3BlobStore:
    """One boto3 client, shared by all threads (boto3 clients are thread-safe)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 store needs a bucket")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        if addressing_style is None:
            # S3-compatible servers (a custom endpoint) are reached by path: bucket names as
            # host names need DNS set up for them, which few such servers have.
            addressing_style = "path" if self.endpoint_url else "auto"
        config = Config(
            retries={"mode": "standard"},
            s3={"addressing_style": addressing_style},
            max_pool_connections=POOL_CONNECTIONS,
        )
        # A session of our own (the default one is shared, lazily built and not thread-safe),
        # so credentials are resolved afresh for each store.
        core = botocore.session.Session()
        core.register_component("data_loader", _LOADER)
        session = boto3.session.Session(botocore_session=core)
        self.client: S3Client = session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=region or None, config=config
        )

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """``s3://BUCKET[/PREFIX][?endpoint_url=...&region=...&addressing_style=...]``."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3":
            raise ValueError(f"not an s3:// URL: {url!r}")
        if "@" in parts.netloc:
            raise ValueError(
                "credentials do not belong in the storage URL: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ~/.aws, an instance role) instead"
            )
        bucket = parts.netloc
        if not bucket or ":" in bucket:
            raise ValueError(f"the storage URL needs a bucket name, s3://BUCKET/...: {url!r}")
        if parts.fragment:
            raise ValueError(f"the storage URL has a #fragment, which means nothing: {url!r}")
        options: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in URL_OPTIONS:
                raise ValueError(
                    f"unknown option {name!r} in the storage URL (known: {', '.join(URL_OPTIONS)})"
                )
            if name in options:
                raise ValueError(f"option {name!r} given twice in the storage URL")
            if not value:
                raise ValueError(f"option {name!r} is empty in the storage URL")
            options[name] = value
        endpoint_url = options.get("endpoint_url")
        if endpoint_url is not None:
            endpoint = urlsplit(endpoint_url)
            if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
                raise ValueError(
                    f"endpoint_url must be an http:// or https:// URL, not {endpoint_url!r}"
                )
        style = options.get("addressing_style")
        if style is not None and style not in get_args(AddressingStyle):
            raise ValueError(
                f"addressing_style must be one of {', '.join(get_args(AddressingStyle))}, "
                f"not {style!r}"
            )
        return cls(
            bucket,
            unquote(parts.path),
            endpoint_url=endpoint_url,
            region=options.get("region"),
            addressing_style=cast(AddressingStyle | None, style),
        )

    @property
    def url(self) -> str:
        """Where the blobs are, for logs (no credentials: there are none in it)."""
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def __repr__(self) -> str:
        return f"S3BlobStore({self.url})"

    def _object_key(self, key: str) -> str:
        # Keys are ours, but hold S3 to the same rule as the local store: a key that would
        # climb out of the store on disk is refused here too, so both behave alike.
        if not key:
            raise ValueError("empty storage key")
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"storage key escapes the store: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        """Fail early, and clearly, when the bucket cannot be reached with these credentials."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise RuntimeError(f"cannot use the blob store {self.url}: {code}") from exc

    def put(self, key: str, data: bytes) -> None:
        if key.startswith(FILE_PREFIX):
            raise ValueError(READ_ONLY)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"blob data must be bytes, not {type(data).__name__}")
        # A PUT is atomic: readers see the old object or the whole new one, never a part.
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=bytes(data))

    def get(self, key: str) -> bytes:
        if key.startswith(FILE_PREFIX):
            return read_file(file_key_path(key), key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _error_code(exc) in MISSING:
                raise BlobNotFound(key) from exc
            raise
        body = response["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def delete(self, key: str) -> None:
        if key.startswith(FILE_PREFIX):
            return  # the user's own file: never ours to delete
        # S3 answers 204 for a key that is not there: deleting twice is fine.
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        if key.startswith(FILE_PREFIX):
            return file_key_path(key).is_file()
        return self.modified(key) is not None

    def stored(self) -> Iterator[StoredBlob]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredBlob(item["Key"][len(start) :], item["LastModified"].timestamp())

    def modified(self, key: str) -> float | None:
        if key.startswith(FILE_PREFIX):
            path = file_key_path(key)
            return path.stat().st_mtime if path.is_file() else None
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _error_code(exc) in MISSING:
                return None
            raise
        return head["LastModified"].timestamp()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
