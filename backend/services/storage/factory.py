"""The blob store a setting names: a local folder (the default) or an S3 bucket."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from backend.services.storage.blobstore import BlobStore, LocalBlobStore

SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
SUPPORTED = "a folder path, file:///absolute/folder or s3://bucket/prefix?endpoint_url=..."


def make_blob_store(url_or_path: str | Path) -> BlobStore:
    """``/abs/dir``, ``rel/dir`` or ``file:///abs/dir`` → :class:`LocalBlobStore`;
    ``s3://BUCKET/prefix?...`` → :class:`~backend.services.storage.s3.S3BlobStore` (see there
    for its options); anything else is a ``ValueError`` that says what is understood."""
    if isinstance(url_or_path, Path):
        return LocalBlobStore(url_or_path)
    text = url_or_path.strip()
    if not text:
        raise ValueError(f"empty blob store location: expected {SUPPORTED}")
    match = SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme == "s3":
        if not text[len("s3:") :].startswith("//"):
            raise ValueError(f"malformed S3 storage URL {text!r}: expected s3://bucket/prefix")
        # Imported here: boto3 is loaded only by those who store blobs in S3.
        from backend.services.storage.s3 import S3BlobStore

        return S3BlobStore.from_url(text)
    if scheme == "file":
        return LocalBlobStore(_file_url_path(text))
    if scheme and text[len(scheme) + 1 :].startswith("//"):
        raise ValueError(
            f"unsupported blob store scheme {scheme + '://'!r} in {text!r}: expected {SUPPORTED}"
        )
    return LocalBlobStore(Path(text).expanduser())


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if not url[len("file:") :].startswith("//") or parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"malformed file URL {url!r}: expected file:///absolute/folder (three slashes)"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"a file URL takes no ?query or #fragment: {url!r}")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ValueError(f"a file URL needs an absolute folder, file:///...: {url!r}")
    return Path(path)
