"""Taking a backup (`govshare backup`, and daily on the worker: `jobs.py`).

Every database is held at its moment before any is copied — the platform, the center and the
portal snapshots are opened one after the other, then copied — so the parts are as close in
time as separate databases allow, and the platform and a center sharing a PostgreSQL
database share one snapshot. The file store is copied after the databases: stored files are
never changed or removed once their version is committed, so every file the platform's copy
names is there (the copy is checked against the database's SHA-256 of each). The audit entry
(`backup.create`) is written once the archive is complete, with the manifest's SHA-256.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govshare import __version__
from govshare.backup.archive import (
    CHUNK,
    FORMAT,
    NAME_PREFIX,
    PART_LABELS,
    PARTIAL,
    VERSION,
    Progress,
    Writer,
    archives,
    name_at,
    no_progress,
)
from govshare.backup.databases import (
    Place,
    PostgresSnapshot,
    SqliteSnapshot,
    connected,
    row_counts,
)
from govshare.core import clock
from govshare.core.audit.models import AuditHead
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.core.runtime import Runtime
from govshare.core.settings import Settings

LOCK = ".govshare-backup.lock"
SQLITE_FILES = {"platform": "govshare.db", "center": "center.db", "portal": "portal.db"}
Snapshot = SqliteSnapshot | PostgresSnapshot


@dataclass
class Backup:
    """A backup taken: where it is, its manifest, what the operator should know."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    warnings: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # older backups removed to keep the newest


def places(settings: Settings) -> dict[str, Place]:
    """The three databases of a deployment as parts of a backup."""
    platform = Place(settings.database_url)
    schema = (
        settings.center_schema if not settings.center_database_url.startswith("sqlite") else None
    )
    center = Place(settings.center_database_url, schema=schema)
    if schema and center.database() == platform.database():
        platform = Place(settings.database_url, exclude=schema)
    return {"platform": platform, "center": center, "portal": Place(settings.portal_database_url)}


def create(
    runtime: Runtime,
    *,
    actor: Actor,
    to: Path,
    keep: int | None = None,
    progress: Progress = no_progress,
) -> Backup:
    """Writes a backup of the deployment into the directory `to`; with `keep`, then removes
    all but the newest `keep` backups there. For the console and the scheduled job."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="备份平台数据")
    settings = runtime.settings
    to = to.expanduser().resolve()
    if to.is_relative_to(settings.data_dir / "files"):
        raise Invalid("备份目录不能位于文件存储目录之内（文件存储会被复制进备份）", field="to")
    if keep is not None and keep < 1:
        raise Invalid("至少保留 1 份备份", field="keep")
    to.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(to):
        _remove_partials(to)
        writer = Writer(to, name_at(clock.now()))
        try:
            manifest, warnings = _write(settings, writer, progress)
            path, manifest_sha = writer.finish(manifest)
        except BaseException:
            writer.discard()
            raise
        removed = prune(to, keep) if keep else []
    with runtime.transaction() as db_session:
        record(
            db_session,
            actor=actor,
            action="backup.create",
            object_type="backup",
            object_id=path.name,
            details={
                "directory": str(to),
                "manifest_sha256": manifest_sha,
                "alembic_revision": manifest["alembic_revision"],
                "audit_head_seq": (manifest["audit_head"] or {}).get("seq"),
                "parts": summary(manifest),
                "removed": removed,
                "warnings": warnings,
            },
        )
    return Backup(path, manifest, manifest_sha, warnings, removed)


def summary(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each part in a line's worth: kind, tables and rows, files and bytes."""
    out = {}
    for part, entry in manifest["parts"].items():
        line = {"kind": entry["kind"], "files": len(entry["files"])}
        line["bytes"] = sum(f["size"] for f in entry["files"].values())
        if "tables" in entry:
            line["tables"] = len(entry["tables"])
            line["rows"] = sum(entry["tables"].values())
        out[part] = line
    return out


def prune(directory: Path, keep: int) -> list[str]:
    """Removes all but the newest `keep` complete backups in the directory; their names."""
    old = archives(directory)[:-keep]
    for path in old:
        shutil.rmtree(path)
    return [path.name for path in old]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One backup at a time into a directory (the daily job and a console run may meet)."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"另一个备份正在写入 {directory}，请稍后再试", field="to") from None
        yield
    finally:
        os.close(fd)


def _remove_partials(directory: Path) -> None:
    """Under the lock, an unfinished backup belongs to a process that died."""
    for path in directory.glob(f"{NAME_PREFIX}*{PARTIAL}"):
        shutil.rmtree(path, ignore_errors=True)


# --- the parts ----------------------------------------------------------------------------


def _write(
    settings: Settings, writer: Writer, progress: Progress
) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    taken_at = clock.now()
    where = places(settings)
    parts: dict[str, dict[str, Any]] = {}
    facts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        snapshots = _snapshots(where, stack)
        for part in ("platform", "center", "portal"):
            reader = _platform_facts if part == "platform" else None
            parts[part] = _database(writer, part, where[part], snapshots[part], progress, reader)
            facts.update(parts[part].pop("facts", {}))
    parts["files"] = _files(settings, writer, facts.pop("stored"), warnings, progress)
    parts["secrets"] = _secrets(settings, writer, warnings)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "name": writer.name,
        "created_at": clock.to_city(taken_at).isoformat(timespec="seconds"),
        "govshare_version": __version__,
        "alembic_revision": facts["alembic_revision"],
        "audit_head": facts["audit_head"],
        "audit_hash": settings.audit_hash,
        "parts": parts,
        "warnings": warnings,
    }
    return manifest, warnings


def _snapshots(where: dict[str, Place], stack: contextlib.ExitStack) -> dict[str, Snapshot | None]:
    """Every database held at its moment before any is copied; one snapshot per PostgreSQL
    database, shared by the parts in it."""
    snapshots: dict[str, Snapshot | None] = {}
    by_database: dict[tuple[Any, ...], PostgresSnapshot] = {}
    for part, place in where.items():
        if place.kind == "sqlite":
            if not place.path.is_file():
                if part == "platform":
                    raise Invalid(
                        f"平台数据库 {place.path} 尚未建立，没有可备份的内容（先运行 govshare db upgrade）",
                        field="database_url",
                    )
                snapshots[part] = None  # never opened yet: the platform creates it on first use
                continue
            sqlite = SqliteSnapshot(place.path)
            stack.callback(sqlite.close)
            snapshots[part] = sqlite
            continue
        key = place.database()
        if key not in by_database:
            by_database[key] = PostgresSnapshot(place.url)
            stack.callback(by_database[key].close)
        snapshots[part] = by_database[key]
    return snapshots


def _database(
    writer: Writer,
    part: str,
    place: Place,
    snapshot: Snapshot | None,
    progress: Progress,
    reader: Any,
) -> dict[str, Any]:
    """Copies one database into the archive; its entry (kind, tables' row counts)."""
    name = PART_LABELS[part]
    entry: dict[str, Any] = {"kind": place.kind}
    if place.schema:
        entry["schema"] = place.schema
    if snapshot is None:
        entry.update(present=False, tables={})
        return entry

    def copying(done: int, total: int | None) -> None:
        progress(f"复制{name}", done, total)

    def counting(done: int, total: int | None) -> None:
        progress(f"统计{name}各表行数", done, total)

    if isinstance(snapshot, SqliteSnapshot):
        target = writer.path(part, SQLITE_FILES[part])
        snapshot.copy_to(target, copying)
        # Counted in the copy itself: the manifest vouches for what the archive holds.
        with connected(f"sqlite:///{target}") as connection:
            entry["tables"] = row_counts(connection, place, counting)
            if reader:
                entry["facts"] = reader(connection)
        writer.seal(part, target)
        return entry
    entry["format"] = "pg_dump custom"
    entry["tables"] = row_counts(snapshot.connection, place, counting)
    if reader:
        entry["facts"] = reader(snapshot.connection)
    target = writer.path(part, f"{part}.dump")
    snapshot.dump(place, target, copying, len(entry["tables"]))
    writer.seal(part, target)
    return entry


def _platform_facts(connection: Connection) -> dict[str, Any]:
    """What the manifest says of the platform: its schema's revision, the audit chain's head
    (a checkpoint the restored chain is verified against) and the files its database names."""
    from govshare.exchange.models import FileVersion

    if not sa.inspect(connection).has_table("alembic_version"):
        raise Invalid(
            "平台数据库尚未建立，没有可备份的内容（先运行 govshare db upgrade）",
            field="database_url",
        )
    revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    head = connection.execute(sa.select(AuditHead.last_seq, AuditHead.last_hash)).first()
    versions = FileVersion.__table__.c
    stored = connection.execute(sa.select(versions.storage_key, versions.sha256)).all()
    return {
        "alembic_revision": revision,
        "audit_head": {"seq": head.last_seq, "hash": head.last_hash} if head else None,
        "stored": dict(stored),
    }


def _files(
    settings: Settings,
    writer: Writer,
    stored: dict[str, str],
    warnings: list[str],
    progress: Progress,
) -> dict[str, Any]:
    """The local file store, copied with each file's SHA-256 (checked against the database's);
    an S3 bucket is recorded, not copied."""
    if settings.file_store == "s3":
        warnings.append(
            f"文件存储为 S3（存储桶 {settings.s3_bucket}）：其中 {len(stored)} 个对象未复制到备份中，"
            "请用对象存储自身的版本控制或跨区域复制保护它们"
        )
        return {
            "kind": "s3",
            "copied": False,
            "bucket": settings.s3_bucket,
            "endpoint_url": settings.s3_endpoint_url,
            "referenced": len(stored),
            "note": "S3 对象未复制到备份中；恢复后的平台须使用同一存储桶",
        }
    root = settings.data_dir / "files"
    found = sorted(_stored_files(root))
    total = sum(path.stat().st_size for path in found)
    done = 0
    copied: dict[str, str] = {}
    for path in found:
        key = path.relative_to(root).as_posix()
        target = writer.path("files", key)
        size, digest = 0, hashlib.sha256()
        with path.open("rb") as source, target.open("xb") as copy:
            while chunk := source.read(CHUNK):
                copy.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                done += len(chunk)
                progress("复制文件存储", done, total)
        os.chmod(target, 0o600)
        copied[key] = digest.hexdigest()
        writer.seal("files", target, size=size, sha256=copied[key])
    missing = sorted(key for key in stored if key not in copied)
    damaged = sorted(key for key, sha in stored.items() if key in copied and copied[key] != sha)
    if missing:
        warnings.append(
            f"文件存储缺少数据库登记的 {len(missing)} 个文件（如 {missing[0]}），备份中也没有"
        )
    if damaged:
        warnings.append(
            f"文件存储中 {len(damaged)} 个文件与数据库登记的 SHA-256 不符（如 {damaged[0]}），"
            "已按现状备份"
        )
    return {
        "kind": "local",
        "copied": True,
        "referenced": len(stored),
        "missing": missing,
        "damaged": damaged,
    }


def _stored_files(root: Path) -> Iterator[Path]:
    """The store's objects: regular files, not uploads in progress (`.incoming/`)."""
    from govshare.exchange.filestore import INCOMING

    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name != INCOMING]
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _secrets(settings: Settings, writer: Writer, warnings: list[str]) -> dict[str, Any]:
    """The secret key file of the data directory; keys given as settings are named, never
    written into the archive."""
    source = settings.data_dir / "secret_key"
    entry: dict[str, Any] = {"kind": "data_dir", "secret_key": "setting"}
    if source.is_file():
        target = writer.path("secrets", "secret_key")
        shutil.copyfile(source, target)
        os.chmod(target, 0o600)
        writer.seal("secrets", target)
        if source.read_text().strip() == settings.secret_key:
            entry["secret_key"] = "file"
    in_settings = [
        f"GOVSHARE_{name.upper()}"
        for name in ("secret_key", "credential_key", "mask_key", "audit_signing_key")
        if (name != "secret_key" or entry["secret_key"] == "setting") and getattr(settings, name)
    ]
    entry["keys_in_settings"] = in_settings
    if in_settings:
        warnings.append(
            f"{'、'.join(in_settings)} 来自设置，未写入备份：恢复后的平台须使用同样的值，请另行保管"
        )
    return entry
