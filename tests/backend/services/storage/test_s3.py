"""What only the S3 store has: prefixes in a shared bucket, credentials from the environment,
retries of transient faults, and clear failures when the bucket is not there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError, ConnectionClosedError

from backend.services.storage.blobstore import BlobNotFound
from backend.services.storage.s3 import S3BlobStore
from tests.backend.services.storage.conftest import ACCESS_KEY, SECRET_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_keys_live_under_the_prefix_and_prefixes_do_not_see_each_other(
    s3_endpoint: str, bucket: str, s3_admin: S3Client
) -> None:
    first = S3BlobStore.from_url(f"s3://{bucket}/site/a?endpoint_url={s3_endpoint}")
    second = S3BlobStore.from_url(f"s3://{bucket}/site/b/?endpoint_url={s3_endpoint}")
    bare = S3BlobStore.from_url(f"s3://{bucket}?endpoint_url={s3_endpoint}")
    key = "originals/1/ab/abcd"
    first.put(key, b"first")
    assert not second.exists(key) and not bare.exists(key)
    with pytest.raises(BlobNotFound):
        second.get(key)
    second.put(key, b"second")
    bare.put(key, b"bare")
    second.delete(key)
    assert first.get(key) == b"first" and bare.get(key) == b"bare"
    listing = s3_admin.list_objects_v2(Bucket=bucket)
    assert {item["Key"] for item in listing.get("Contents", [])} == {f"site/a/{key}", key}


def test_credentials_come_from_the_environment(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed: list[str] = []

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        signed.append(str(request.headers["Authorization"]))

    store = S3BlobStore.from_url(f"s3://{bucket}?endpoint_url={s3_endpoint}")
    store.client.meta.events.register("before-send.s3", capture)
    store.put("k", b"v")
    assert f"Credential={ACCESS_KEY}/" in signed[-1]
    credentials = boto3.session.Session().get_credentials()
    assert credentials is not None and credentials.secret_key == SECRET_KEY
    assert SECRET_KEY not in repr(store) and ACCESS_KEY not in repr(store)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAROTATEDKEY000002")
    rotated = S3BlobStore.from_url(f"s3://{bucket}?endpoint_url={s3_endpoint}")
    rotated.client.meta.events.register("before-send.s3", capture)
    assert rotated.get("k") == b"v"
    assert "Credential=AKIAROTATEDKEY000002/" in signed[-1]


def test_transient_faults_are_retried(s3_endpoint: str, bucket: str) -> None:
    store = S3BlobStore.from_url(f"s3://{bucket}?endpoint_url={s3_endpoint}")
    config: Any = store.client.meta.config  # botocore's stubs do not name its options
    assert config.retries == {"mode": "standard"}
    attempts: list[str] = []

    def drop_the_first_connection(request: AWSPreparedRequest, **_: Any) -> None:
        attempts.append(request.method or "")
        if len(attempts) == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    store.client.meta.events.register("before-send.s3.PutObject", drop_the_first_connection)
    store.put("k", b"made it")
    assert attempts == ["PUT", "PUT"]
    assert store.get("k") == b"made it"


def test_a_missing_bucket_is_an_error_not_a_missing_blob(s3_endpoint: str) -> None:
    store = S3BlobStore.from_url(f"s3://no-such-bucket-here?endpoint_url={s3_endpoint}")
    with pytest.raises(RuntimeError, match="no-such-bucket-here"):
        store.check()
    with pytest.raises(ClientError) as raised:
        store.get("k")
    assert not isinstance(raised.value, BlobNotFound)
    with pytest.raises(ClientError):
        store.put("k", b"v")


def test_check_passes_on_a_reachable_bucket(s3_store: S3BlobStore) -> None:
    s3_store.check()
