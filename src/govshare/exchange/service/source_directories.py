"""Source directories (源库目录): the platform operator assigns each department a directory
under the platform's data directory, and the department's embedded SQLite connections may
name only files inside it (see `exchange.reach`). A department never chooses its own.

Changing a department's directory does not move its files: a connection naming a file in the
old directory fails at its next test or sync, with the reason, until its data officer points
it at the new one.
"""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import reach
from govshare.exchange.models import SourceDirectory
from govshare.identity.models import Organization

ASSIGNERS = (Role.PLATFORM_OPERATOR,)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
VIEWERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF, *OVERSEERS)


def assign_source_directory(
    db_session: Session, *, actor: Actor, settings: Settings, organization_id: int, path: str
) -> SourceDirectory:
    """Assigns (or moves) a department's source directory and creates it when missing.
    Refused when it is not a directory of the department's own under the data directory."""
    require(actor, *ASSIGNERS, action="分配源库目录")
    org = db_session.get(Organization, organization_id)
    if org is None:
        raise NotFound("单位不存在")
    others = db_session.execute(
        select(SourceDirectory.path).where(SourceDirectory.organization_id != organization_id)
    ).scalars()
    resolved = reach.directory_path(settings, path, [settings.data_dir / p for p in others])
    relative = resolved.relative_to(os.path.realpath(settings.data_dir)).as_posix()
    try:
        resolved.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise Invalid(f"无法创建源库目录 {relative}：{exc.strerror}", field="path") from None
    assigned = db_session.get(SourceDirectory, organization_id)
    previous = assigned.path if assigned is not None else None
    if assigned is None:
        assigned = SourceDirectory(organization_id=organization_id)
        db_session.add(assigned)
    assigned.path = relative
    assigned.assigned_at = clock.now()
    assigned.assigned_by = actor.label
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.source_directory.assign",
        object_type="organization",
        object_id=organization_id,
        details={"organization": org.name, "path": relative, "previous": previous},
    )
    return assigned


def list_source_directories(db_session: Session, *, actor: Actor) -> list[SourceDirectory]:
    """Every department's directory for the operator and overseers; one's own otherwise."""
    require(actor, *VIEWERS, action="查看源库目录")
    query = select(SourceDirectory).order_by(SourceDirectory.organization_id)
    if not actor.has(*OVERSEERS):
        query = query.where(SourceDirectory.organization_id == actor.organization_id)
    return list(db_session.execute(query).scalars())
