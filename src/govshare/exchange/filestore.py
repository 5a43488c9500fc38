"""The file store (文件存储): where the bytes of file resources live, outside the database.

Two kinds behind one small interface: a directory under the data directory (one machine)
and S3-compatible object storage (several app hosts). Both take a stream and never hold a
whole file in memory; both make an object appear only when it is complete, so a failed
upload leaves nothing behind. The SHA-256 computed on the way in is checked again on the
way out (`verified`), so a damaged object is never delivered as a complete download.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from govshare.core.settings import Settings

log = logging.getLogger("govshare.exchange.filestore")

CHUNK_SIZE = 64 * 1024
MIB = 1024 * 1024
S3_MIN_PART_SIZE = 5 * MIB  # S3's smallest part except the last
INCOMING = ".incoming"  # a local upload in progress; never a key


class ObjectMissing(LookupError):
    """The store has no object under the key (deleted, or never completed)."""


class ObjectDamaged(OSError):
    """A stored object's bytes no longer match the size or SHA-256 recorded at upload."""


@dataclass(frozen=True)
class Stored:
    """What a completed upload left in the store."""

    key: str
    size: int
    sha256: str


class Reader:
    """An opened object, read in chunks. Iterating to the end closes it; a caller that
    stops early closes it itself."""

    def __init__(self, raw: Any, chunk_size: int = CHUNK_SIZE) -> None:
        self._raw = raw  # anything with read(n) and close(): a file, a botocore body
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._raw.read(self._chunk_size):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._raw.close()


class FileStore(Protocol):
    """Put a stream, open it for reading, delete it. Keys are relative paths like
    "12/3f2a…"; the service chooses them and never reuses one."""

    def put(self, key: str, chunks: Iterable[bytes]) -> Stored: ...

    def open(self, key: str) -> Reader: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def new_key(prefix: str | int) -> str:
    """A fresh key under `prefix` (a resource id), unguessable and never reused."""
    return f"{prefix}/{uuid.uuid4().hex}"


def _check_key(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if not key or path.is_absolute() or any(p in ("", ".", "..", INCOMING) for p in path.parts):
        raise ValueError(f"invalid file store key {key!r}")
    return path


def verified(reader: Reader, *, size: int, sha256: str) -> Iterator[bytes]:
    """The object's bytes, holding back the last chunk until size and SHA-256 match: a
    damaged object ends the download early instead of arriving as a complete file."""
    digest, seen, held = hashlib.sha256(), 0, None
    try:
        for chunk in reader:
            digest.update(chunk)
            seen += len(chunk)
            if seen > size:
                break
            if held is not None:
                yield held
            held = chunk
        if seen != size or digest.hexdigest() != sha256:
            log.error("stored file damaged: %d bytes read, %d expected", seen, size)
            raise ObjectDamaged("stored file does not match its recorded size and SHA-256")
        if held is not None:
            yield held
    finally:
        reader.close()


# --- the data directory ---------------------------------------------------------------


class LocalStore:
    """Files under a directory (data_dir/files). An upload is written to `.incoming/` and
    renamed into place once complete and flushed to disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).parts)

    def put(self, key: str, chunks: Iterable[bytes]) -> Stored:
        target = self._path(key)
        if target.exists():
            raise FileExistsError(f"file store key {key!r} is taken")
        incoming = self.root / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        temp = incoming / f"{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return Stored(key, size, digest.hexdigest())

    def open(self, key: str) -> Reader:
        try:
            return Reader(self._path(key).open("rb"))
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _fsync_directory(path: Path) -> None:
    """Makes a rename durable: the directory entry reaches the disk too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3-compatible object storage -----------------------------------------------------


class S3Store:
    """Objects in an S3-compatible bucket. Small files go up in one request; larger ones
    as a multipart upload that only becomes an object when completed (aborted on failure),
    so memory holds about two parts (the chunks of one, then the part sent), never the file."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str = "",
        region: str = "",
        access_key: str = "",
        secret_key: str = "",
        prefix: str = "files/",
        part_size: int = 8 * MIB,
    ) -> None:
        if part_size < S3_MIN_PART_SIZE:
            raise ValueError(f"S3 parts must be at least {S3_MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._options = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
        }
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        """The boto3 client, made on first use (boto3 is an optional dependency)."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # Path-style addressing and checksums only where required: what most
                # S3-compatible servers (MinIO, Ceph, cloud vendors' OSS) accept. Integrity
                # end to end is our own SHA-256, checked on every download.
                config = Config(
                    s3={"addressing_style": "path"} if self._options["endpoint_url"] else {},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"max_attempts": 3, "mode": "standard"},
                )
                self._client = boto3.session.Session().client("s3", config=config, **self._options)
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + str(_check_key(key))

    def put(self, key: str, chunks: Iterable[bytes]) -> Stored:
        s3, name = self._s3(), self._key(key)
        digest, size = hashlib.sha256(), 0
        held: list[bytes] = []  # chunks not yet sent, fewer than a part's worth
        held_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                held.append(chunk)
                held_size += len(chunk)
                if held_size >= self.part_size:
                    if upload_id is None:
                        answer = s3.create_multipart_upload(Bucket=self.bucket, Key=name)
                        upload_id = answer["UploadId"]
                    body = b"".join(held)
                    held.clear()
                    held_size = 0
                    # Parts need not be equal, only at least the minimum: sending what is
                    # held, whole, avoids copying it once more to cut it.
                    self._send_part(name, upload_id, parts, body)
            body = b"".join(held)
            if upload_id is None:
                s3.put_object(Bucket=self.bucket, Key=name, Body=body)
            else:
                if body:
                    self._send_part(name, upload_id, parts, body)
                s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                self._abort(name, upload_id)
            raise
        return Stored(key, size, digest.hexdigest())

    def _send_part(
        self, name: str, upload_id: str, parts: list[dict[str, Any]], body: bytes
    ) -> None:
        number = len(parts) + 1
        answer = self._s3().upload_part(
            Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=body
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self._s3().abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception:
            # The bucket's lifecycle rule for incomplete uploads is the fallback.
            log.exception("could not abort multipart upload %s of %s", upload_id, name)

    def open(self, key: str) -> Reader:
        from botocore.exceptions import ClientError

        try:
            answer = self._s3().get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            raise
        return Reader(answer["Body"])

    def delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3().head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise
        return True


def store_for(settings: Settings) -> FileStore:
    """The store the settings name (GOVSHARE_FILE_STORE)."""
    if settings.file_store == "s3":
        return _s3_store(
            settings.s3_bucket,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key,
            settings.s3_secret_key,
        )
    return LocalStore(settings.data_dir / "files")


@functools.lru_cache(maxsize=8)
def _s3_store(
    bucket: str, endpoint_url: str, region: str, access_key: str, secret_key: str
) -> S3Store:
    """One store per configuration, so requests share the client and its connection pool."""
    return S3Store(
        bucket=bucket,
        endpoint_url=endpoint_url,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
    )
