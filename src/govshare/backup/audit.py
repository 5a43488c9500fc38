"""A verification of a backup in the audit log, held to the backup's own entry there.

Checksums inside an archive find damage, not a manifest rewritten together with them: the
`backup.create` entry, chained in the log, recorded the manifest's SHA-256 when the backup was
taken, so a verification on the platform that took it compares the two."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.backup.archive import Verification, manifest_sha256
from govshare.core.audit.models import AuditEntry
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, Role, require


def record_verification(
    db_session: Session, *, actor: Actor, archive: Path, result: Verification
) -> Verification:
    """Records the verification of `archive` (`backup.verify`); an intact archive whose manifest
    is not the one its `backup.create` entry names fails here."""
    require(actor, Role.PLATFORM_OPERATOR, action="校验备份")
    taken = db_session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "backup.create", AuditEntry.object_id == archive.name)
        # newest first: entries the sequencer has not reached yet (seq NULL) are the newest
        .order_by(AuditEntry.seq.desc().nulls_first(), AuditEntry.id.desc())
        .limit(1)
    ).first()
    if result.ok and taken is not None:
        recorded = json.loads(taken.details).get("manifest_sha256")
        if recorded != manifest_sha256(archive):
            result = Verification(
                False,
                f"备份校验未通过：清单文件与审计日志{_where(taken)}记录的 SHA-256 不符"
                "（清单在备份写成之后被改动）",
            )
    record(
        db_session,
        actor=actor,
        action="backup.verify",
        object_type="backup",
        object_id=archive.name,
        details={
            "archive": str(archive.resolve()),
            "ok": result.ok,
            "message": result.message,
            "backup_entry_seq": taken.seq if taken else None,
            "backup_entry_id": taken.id if taken else None,
        },
    )
    return result


def _where(entry: AuditEntry) -> str:
    return f"第 {entry.seq} 条" if entry.seq is not None else f"编号 {entry.id} 的"
