"""Restoring a backup (`govshare restore`) into an empty data directory and empty databases.

Nothing is written until the archive has passed `verify` and every target has been found
empty, so a refused restore changes nothing. Afterwards each database's tables are counted
and held to the manifest, the audit chain is verified against the head the backup recorded
(a checkpoint: the restored chain is the backed-up one, not merely a valid one), and the
restore is the first entry after it (`backup.restore`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govshare.backup.archive import PART_LABELS, Progress, no_progress, verify
from govshare.backup.databases import (
    BackupFailed,
    Place,
    counts_at,
    ensure_empty,
    postgres_url,
    restore_postgres,
    restore_sqlite,
)
from govshare.core.errors import Conflict, Invalid
from govshare.core.permissions import Actor, Role, require

KIND_LABELS = {"sqlite": "内置数据库（SQLite）", "postgresql": "PostgreSQL"}
OPTIONS = {
    "platform": "--database-url",
    "center": "--center-database-url",
    "portal": "--portal-database-url",
}


@dataclass(frozen=True)
class Target:
    """Where a backup is restored: a data directory and the three databases' URLs."""

    data_dir: Path
    database_url: str
    center_database_url: str
    portal_database_url: str

    @classmethod
    def of(
        cls,
        data_dir: Path,
        *,
        database_url: str | None = None,
        center_database_url: str | None = None,
        portal_database_url: str | None = None,
    ) -> Target:
        """Each database in the data directory (as the settings' defaults) unless a URL is
        given; postgresql:// URLs as the platform writes them."""
        data_dir = data_dir.expanduser().resolve()
        return cls(
            data_dir,
            postgres_url(database_url or f"sqlite:///{data_dir / 'govshare.db'}"),
            postgres_url(center_database_url or f"sqlite:///{data_dir / 'center.db'}"),
            postgres_url(portal_database_url or f"sqlite:///{data_dir / 'portal.db'}"),
        )

    def settings(self, manifest: dict[str, Any]) -> dict[str, str]:
        """The settings a platform started on this target needs beyond the defaults."""
        out = {"GOVSHARE_DATA_DIR": str(self.data_dir)}
        for part, name, url in (
            ("platform", "GOVSHARE_DATABASE_URL", self.database_url),
            ("center", "GOVSHARE_CENTER_DATABASE_URL", self.center_database_url),
            ("portal", "GOVSHARE_PORTAL_DATABASE_URL", self.portal_database_url),
        ):
            if url != f"sqlite:///{self.data_dir / _SQLITE[part]}":
                out[name] = Place(url).shown
        schema = manifest["parts"]["center"].get("schema")
        if schema and schema != "center":
            out["GOVSHARE_CENTER_SCHEMA"] = schema
        return out


_SQLITE = {"platform": "govshare.db", "center": "center.db", "portal": "portal.db"}


@dataclass
class Restored:
    """A restore done: the manifest restored, the audit chain's verdict, what to do next."""

    target: Target
    manifest: dict[str, Any]
    audit: str
    audit_ok: bool
    notes: list[str] = field(default_factory=list)


def restore(
    archive: Path, target: Target, *, actor: Actor, progress: Progress = no_progress
) -> Restored:
    """Restores every part of the archive into the target, which must be empty; for the
    operator at the console."""
    require(actor, Role.PLATFORM_OPERATOR, action="从备份恢复")
    checked = verify(archive, progress=progress)
    if not checked.ok or checked.manifest is None:
        raise Invalid(checked.message, field="path")
    manifest = checked.manifest
    where = _places(manifest, target)
    _ensure_empty(target, where)
    target.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    notes = _restore_secrets(archive, manifest, target)
    notes += _restore_files(archive, manifest, target, progress)
    for part, place in where.items():
        entry = manifest["parts"][part]
        if entry.get("present", True):
            _restore_database(archive, part, entry, place, progress)
    for part, place in where.items():
        _check_counts(part, manifest["parts"][part], place)
    revision_note = _revision_note(manifest["alembic_revision"])
    if revision_note:
        notes.append(revision_note)
        audit, audit_ok = "恢复未写入审计日志：数据库结构升级后才能写入", True
    else:
        audit, audit_ok = _audit(target, manifest, actor, archive)
    return Restored(target, manifest, audit, audit_ok, notes)


def _places(manifest: dict[str, Any], target: Target) -> dict[str, Place]:
    urls = {
        "platform": target.database_url,
        "center": target.center_database_url,
        "portal": target.portal_database_url,
    }
    for part, url in urls.items():
        kind = manifest["parts"][part]["kind"]
        if Place(url).kind != kind:
            raise Invalid(
                f"备份中的{PART_LABELS[part]}是{KIND_LABELS[kind]}，恢复目标也须是"
                f"{KIND_LABELS[kind]}（用 {OPTIONS[part]} 指定）",
                field=OPTIONS[part].strip("-").replace("-", "_"),
            )
    center = Place(urls["center"], schema=manifest["parts"]["center"].get("schema"))
    platform = Place(urls["platform"])
    if center.schema and center.database() == platform.database():
        platform = Place(urls["platform"], exclude=center.schema)
    portal = Place(urls["portal"])
    if portal.database() in (platform.database(), center.database()):
        raise Invalid(
            "开放门户数据库须与平台数据库、数据资源中心分开（用 --portal-database-url 指定）",
            field="portal_database_url",
        )
    return {"platform": platform, "center": center, "portal": portal}


def _ensure_empty(target: Target, where: dict[str, Place]) -> None:
    """Every target is checked before anything is written."""
    if target.data_dir.exists():
        if not target.data_dir.is_dir():
            raise Conflict(f"数据目录 {target.data_dir} 不是目录", field="data_dir")
        found = sorted(path.name for path in target.data_dir.iterdir())
        if found:
            named = "、".join(found[:3]) + (" 等" if len(found) > 3 else "")
            raise Conflict(
                f"数据目录 {target.data_dir} 不是空的（已有 {named}），恢复只能写入空目录或尚不存在的目录",
                field="data_dir",
            )
    for part, place in where.items():
        whole = Place(place.url, schema=place.schema)  # the platform's target: every schema
        ensure_empty(whole, PART_LABELS[part])


def _restore_secrets(archive: Path, manifest: dict[str, Any], target: Target) -> list[str]:
    entry = manifest["parts"]["secrets"]
    for relative in entry["files"]:
        destination = target.data_dir / Path(relative).name
        shutil.copyfile(archive / relative, destination)
        os.chmod(destination, 0o600)
    named = entry.get("keys_in_settings") or []
    if named:
        return [f"备份时 {'、'.join(named)} 来自设置：恢复后的平台须使用同样的值启动"]
    return []


def _restore_files(
    archive: Path, manifest: dict[str, Any], target: Target, progress: Progress
) -> list[str]:
    entry = manifest["parts"]["files"]
    if entry["kind"] == "s3":
        return [
            f"文件存储为 S3（存储桶 {entry.get('bucket', '')}）：对象不在备份中，"
            "恢复后的平台须使用同一存储桶（GOVSHARE_FILE_STORE=s3 及 GOVSHARE_S3_* 设置）"
        ]
    total = sum(f["size"] for f in entry["files"].values())
    done = 0
    root = target.data_dir / "files"
    for relative, facts in entry["files"].items():
        destination = root / Path(relative).relative_to("files")
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(archive / relative, destination)
        os.chmod(destination, 0o600)
        done += facts["size"]
        progress("恢复文件存储", done, total)
    return []


def _restore_database(
    archive: Path, part: str, entry: dict[str, Any], place: Place, progress: Progress
) -> None:
    def advance(done: int, total: int | None) -> None:
        progress(f"恢复{PART_LABELS[part]}", done, total)

    [relative] = entry["files"]
    if place.kind == "sqlite":
        restore_sqlite(archive / relative, place.path)
        advance(1, 1)
    else:
        restore_postgres(archive / relative, place, advance, len(entry["tables"]))


def _check_counts(part: str, entry: dict[str, Any], place: Place) -> None:
    """The restored database holds what the manifest says, table by table."""
    if not entry.get("present", True):
        return
    found = counts_at(place)
    for table, rows in entry["tables"].items():
        if found.get(table) != rows:
            raise BackupFailed(
                f"恢复后的{PART_LABELS[part]}与备份不符：表 {table} 应有 {rows} 行，"
                f"实有 {found.get(table, '（缺少该表）')} 行"
            )
    extra = sorted(set(found) - set(entry["tables"]))
    if extra:
        raise BackupFailed(f"恢复后的{PART_LABELS[part]}多出备份中没有的表 {extra[0]}")


def _revision_note(revision: str | None) -> str | None:
    """What to do before starting when the backup's schema is not this version's."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from govshare.core import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    if revision == script.get_current_head():
        return None
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except CommandError:
        known = False
    if known:
        return f"数据库结构版本 {revision} 早于本程序的版本：启动前请运行 govshare db upgrade"
    return f"备份来自更新版本的 govshare（数据库结构版本 {revision}），请安装该版本后再启动"


def _audit(
    target: Target, manifest: dict[str, Any], actor: Actor, archive: Path
) -> tuple[str, bool]:
    """Verifies the restored chain against the head the backup recorded and records the
    restore as the entry after it."""
    from govshare.core.audit import service as audit_service
    from govshare.core.db import make_engine, make_sessionmaker, unit_of_work

    head = manifest.get("audit_head")
    checkpoints = (audit_service.Checkpoint(head["seq"], head["hash"]),) if head else ()
    engine = make_engine(target.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as db_session:
            result = audit_service.verify(db_session, checkpoints)
            entry = audit_service.record(
                db_session,
                actor=actor,
                action="backup.restore",
                object_type="backup",
                object_id=manifest["name"],
                details={
                    "archive": str(archive.resolve()),
                    "created_at": manifest["created_at"],
                    "audit_head_seq": head["seq"] if head else None,
                    "audit_verified": result.ok,
                    "databases": {
                        "platform": Place(target.database_url).shown,
                        "center": Place(target.center_database_url).shown,
                        "portal": Place(target.portal_database_url).shown,
                    },
                },
            )
            # The city's choice of hash, as the backed-up chain used it.
            entry.algorithm = manifest.get("audit_hash", entry.algorithm)
    finally:
        engine.dispose()
    return result.describe(), result.ok
