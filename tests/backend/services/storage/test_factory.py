"""Which store a setting names: folder paths, file:// URLs, s3:// URLs, and clear refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.services.storage.blobstore import LocalBlobStore
from backend.services.storage.factory import make_blob_store
from backend.services.storage.s3 import S3BlobStore
from tests.backend.services.storage.conftest import REGION


def local_root(location: str | Path) -> Path:
    store = make_blob_store(location)
    assert isinstance(store, LocalBlobStore)
    return store.root


def s3(url: str) -> S3BlobStore:
    store = make_blob_store(url)
    assert isinstance(store, S3BlobStore)
    return store


def addressing(store: S3BlobStore) -> Any:
    config: Any = store.client.meta.config  # botocore's stubs do not name its options
    return config.s3


def test_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_root(tmp_path / "a") == tmp_path / "a"
    assert local_root(str(tmp_path / "b")) == tmp_path / "b"
    assert local_root(f"file://{tmp_path}/c") == tmp_path / "c"
    assert local_root(f"file://localhost{tmp_path}/d") == tmp_path / "d"
    assert local_root(f"FILE://{tmp_path}/with%20space") == tmp_path / "with space"
    monkeypatch.chdir(tmp_path)
    assert local_root("relative/blobs") == tmp_path / "relative/blobs"
    assert local_root("odd:name") == tmp_path / "odd:name"  # a colon alone is no scheme
    assert (tmp_path / "relative/blobs").is_dir()


def test_s3_url_options() -> None:
    store = s3(
        "s3://photos/dupfinder/prod/?endpoint_url=http://minio.local:9000"
        "&region=eu-west-3&addressing_style=virtual"
    )
    assert (store.bucket, store.prefix) == ("photos", "dupfinder/prod")
    assert store.client.meta.endpoint_url == "http://minio.local:9000"
    assert store.client.meta.region_name == "eu-west-3"
    assert addressing(store) == {"addressing_style": "virtual"}
    assert store.url == "s3://photos/dupfinder/prod at http://minio.local:9000"


def test_s3_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = s3("S3://photos")
    assert (aws.bucket, aws.prefix, aws.endpoint_url) == ("photos", "", None)
    assert aws.client.meta.region_name == REGION  # from AWS_DEFAULT_REGION
    assert addressing(aws) == {"addressing_style": "auto"}
    assert aws.url == "s3://photos"
    # An S3-compatible server is reached by path unless the URL says otherwise.
    minio = s3("s3://photos/p?endpoint_url=https://minio.local")
    assert addressing(minio) == {"addressing_style": "path"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert s3("s3://photos").client.meta.region_name == "ap-south-1"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("gs://bucket/x", "unsupported blob store scheme 'gs://'"),
        ("https://example.com/blobs", "unsupported blob store scheme 'https://'"),
        ("s3:bucket", "malformed S3"),
        ("s3://", "needs a bucket"),
        ("s3:///prefix", "needs a bucket"),
        ("s3://bucket:9000/p", "needs a bucket"),
        ("s3://AKIA:secret@bucket/p", "credentials do not belong"),
        ("s3://bucket?endpoint=http://x:9000", "unknown option 'endpoint'"),
        ("s3://bucket?region=", "'region' is empty"),
        ("s3://bucket?region=a&region=b", "'region' given twice"),
        ("s3://bucket?addressing_style=dns", "addressing_style must be one of"),
        ("s3://bucket?endpoint_url=minio:9000", "endpoint_url must be an http"),
        ("s3://bucket#x", "fragment"),
        ("file:relative/blobs", "malformed file URL"),
        ("file://otherhost/blobs", "malformed file URL"),
        ("file:///blobs?x=1", "no ?query"),
    ],
)
def test_bad_locations_are_refused_clearly(location: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        make_blob_store(location)


def test_an_s3_url_gives_a_working_store(s3_endpoint: str, bucket: str) -> None:
    store = make_blob_store(f"s3://{bucket}/x?endpoint_url={s3_endpoint}&region={REGION}")
    store.put("thumbnails/1/1.jpg", b"jpeg")
    assert store.get("thumbnails/1/1.jpg") == b"jpeg"
