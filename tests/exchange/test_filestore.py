"""The file store: the data directory and S3-compatible storage (moto's real server on a
local port) take a stream, report its size and SHA-256, read it back in chunks, and leave
nothing behind when an upload fails half-way."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govshare.core.settings import load_settings
from govshare.exchange import filestore
from govshare.exchange.filestore import LocalStore, ObjectDamaged, ObjectMissing, S3Store

MIB = 1024 * 1024
CREDENTIALS = {"region": "us-east-1", "access_key": "testing", "secret_key": "testing"}


class Broken(Exception):
    """The uploader's connection dropped half-way."""


def pieces(data: bytes, size: int = 50_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def failing(data: bytes, after: int) -> Iterator[bytes]:
    """Yields `after` bytes of `data`, then fails like a dropped connection."""
    yield from pieces(data[:after])
    raise Broken("connection reset by peer")


def generated(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """`total` bytes made on the fly, so the test itself holds one chunk at a time."""
    block = os.urandom(chunk)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def peak_memory(work: Any) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the data directory ---------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "files")


def test_local_put_reports_size_and_sha256_and_reads_back_in_chunks(local: LocalStore) -> None:
    data = os.urandom(300_000)
    stored = local.put("7/abc", pieces(data))
    assert (stored.key, stored.size) == ("7/abc", len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    chunks = list(local.open("7/abc"))
    assert b"".join(chunks) == data
    assert len(chunks) > 1 and max(map(len, chunks)) <= filestore.CHUNK_SIZE
    assert files_under(local.root) == [local.root / "7" / "abc"]


def test_local_failed_put_leaves_no_file(local: LocalStore) -> None:
    with pytest.raises(Broken):
        local.put("7/abc", failing(os.urandom(200_000), after=120_000))
    assert not local.exists("7/abc")
    assert files_under(local.root) == []  # nor a half-written temp file


def test_local_put_never_overwrites_a_key(local: LocalStore) -> None:
    local.put("7/abc", [b"first"])
    with pytest.raises(FileExistsError):
        local.put("7/abc", [b"second"])
    assert b"".join(local.open("7/abc")) == b"first"


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "7/../../x", ".incoming/x"])
def test_local_refuses_keys_outside_its_directory(local: LocalStore, key: str) -> None:
    with pytest.raises(ValueError):
        local.put(key, [b"x"])


def test_local_delete_and_missing_object(local: LocalStore) -> None:
    local.put("7/abc", [b"content"])
    local.delete("7/abc")
    local.delete("7/abc")  # deleting twice is harmless
    assert not local.exists("7/abc")
    with pytest.raises(ObjectMissing):
        local.open("7/abc")


def test_local_put_and_read_hold_one_chunk_not_the_file(local: LocalStore) -> None:
    total = 24 * MIB
    stored = None

    def put() -> None:
        nonlocal stored
        stored = local.put("7/big", generated(total))

    assert peak_memory(put) < 2 * MIB
    assert stored is not None and stored.size == total

    def read() -> None:
        digest = hashlib.sha256()
        for chunk in local.open("7/big"):
            digest.update(chunk)
        assert digest.hexdigest() == stored.sha256

    assert peak_memory(read) < 2 * MIB


def test_verified_stream_ends_early_when_the_object_is_damaged(local: LocalStore) -> None:
    data = os.urandom(200_000)
    stored = local.put("7/abc", pieces(data))
    intact = b"".join(
        filestore.verified(local.open("7/abc"), size=stored.size, sha256=stored.sha256)
    )
    assert intact == data
    path = local.root / "7" / "abc"
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped on disk
    received = bytearray()
    with pytest.raises(ObjectDamaged):
        for chunk in filestore.verified(
            local.open("7/abc"), size=stored.size, sha256=stored.sha256
        ):
            received += chunk
    assert len(received) < len(data)  # the client never gets a complete-looking file


def test_store_for_uses_the_data_directory_by_default(tmp_path: Path) -> None:
    settings = load_settings(environ={"GOVSHARE_DATA_DIR": str(tmp_path)})
    store = filestore.store_for(settings)
    assert isinstance(store, LocalStore) and store.root == tmp_path.resolve() / "files"


# --- S3-compatible storage (moto's server) ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) in a process of its own on a free local port,
    so memory measured here is the platform's alone."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"govshare-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, **_boto(CREDENTIALS))
    client.create_bucket(Bucket=name)
    return name


def _boto(options: dict[str, str]) -> dict[str, str]:
    return {
        "region_name": options["region"],
        "aws_access_key_id": options["access_key"],
        "aws_secret_access_key": options["secret_key"],
    }


def s3_store(endpoint: str, bucket: str, part_size: int = filestore.S3_MIN_PART_SIZE) -> S3Store:
    return S3Store(bucket=bucket, endpoint_url=endpoint, part_size=part_size, **CREDENTIALS)


def raw_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **_boto(CREDENTIALS))


def test_s3_small_file_goes_up_in_one_request(s3_endpoint: str, bucket: str) -> None:
    store = s3_store(s3_endpoint, bucket)
    data = os.urandom(100_000)
    stored = store.put("7/abc", pieces(data))
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    head = raw_client(s3_endpoint).head_object(Bucket=bucket, Key="files/7/abc")
    assert head["ContentLength"] == len(data)
    assert b"".join(store.open("7/abc")) == data


def test_s3_large_file_goes_up_in_parts(s3_endpoint: str, bucket: str) -> None:
    store = s3_store(s3_endpoint, bucket)
    data = os.urandom(11 * MIB + 123)
    stored = store.put("7/big", pieces(data, 256 * 1024))
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    head = raw_client(s3_endpoint).head_object(Bucket=bucket, Key="files/7/big")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object of three parts
    chunks = list(store.open("7/big"))
    assert b"".join(chunks) == data and max(map(len, chunks)) <= filestore.CHUNK_SIZE


def test_s3_failed_multipart_upload_is_aborted_and_leaves_nothing(
    s3_endpoint: str, bucket: str
) -> None:
    store = s3_store(s3_endpoint, bucket)
    with pytest.raises(Broken):
        store.put("7/big", failing(os.urandom(12 * MIB), after=11 * MIB))
    client = raw_client(s3_endpoint)
    assert not store.exists("7/big")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3_failed_small_upload_leaves_nothing(s3_endpoint: str, bucket: str) -> None:
    store = s3_store(s3_endpoint, bucket)
    with pytest.raises(Broken):
        store.put("7/abc", failing(os.urandom(200_000), after=100_000))
    assert raw_client(s3_endpoint).list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_s3_upload_holds_at_most_a_part_in_memory(s3_endpoint: str, bucket: str) -> None:
    store = s3_store(s3_endpoint, bucket)
    total = 4 * filestore.S3_MIN_PART_SIZE

    def put() -> None:
        store.put("7/big", generated(total))

    store.put("7/warm-up", [b"x"])  # the client's one-off set-up is not the upload's cost
    # A part is buffered and copied once to send; the whole file would be four times more.
    assert peak_memory(put) < 3 * filestore.S3_MIN_PART_SIZE
    assert (
        raw_client(s3_endpoint).head_object(Bucket=bucket, Key="files/7/big")["ContentLength"]
        == total
    )


def test_s3_delete_and_missing_object(s3_endpoint: str, bucket: str) -> None:
    store = s3_store(s3_endpoint, bucket)
    store.put("7/abc", [b"content"])
    assert store.exists("7/abc")
    store.delete("7/abc")
    assert not store.exists("7/abc")
    with pytest.raises(ObjectMissing):
        store.open("7/abc")


def test_s3_parts_below_the_protocol_minimum_are_refused() -> None:
    with pytest.raises(ValueError):
        S3Store(bucket="b", part_size=MIB)


def test_store_for_s3_settings_talks_to_the_configured_server(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    settings = load_settings(
        environ={
            "GOVSHARE_DATA_DIR": str(tmp_path),
            "GOVSHARE_FILE_STORE": "s3",
            "GOVSHARE_S3_ENDPOINT_URL": s3_endpoint,
            "GOVSHARE_S3_BUCKET": bucket,
            "GOVSHARE_S3_REGION": "us-east-1",
            "GOVSHARE_S3_ACCESS_KEY": "testing",
            "GOVSHARE_S3_SECRET_KEY": "testing",
        }
    )
    store = filestore.store_for(settings)
    assert isinstance(store, S3Store) and filestore.store_for(settings) is store
    store.put("1/x", itertools.repeat(b"ab", 3))
    assert b"".join(store.open("1/x")) == b"ababab"
