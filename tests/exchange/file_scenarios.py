"""Audit scenarios for the file resource services (see tests/test_audit_coverage.py), and the
small world the file tests stand on: the sharing cast plus a published file resource."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.exchange.filestore import FileStore, LocalStore
from govshare.exchange.models import FileVersion
from govshare.exchange.service import files
from govshare.identity.models import Organization
from govshare.sharing.models import Grant
from govshare.sharing.schemas import DirectAccessIn
from govshare.sharing.service import grants
from tests.builders import actor_of, operator, organization, system_of, user
from tests.catalog.builders import published
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import SHANGRAO

FILES = "govshare.exchange.service.files."
REPORT = b"%PDF-1.4\n" + "2026年第三季度常住人口统计\n".encode() * 2000 + b"%%EOF\n"
REPORT_NAME = "2026年第三季度人口统计报表.pdf"
# The scenarios' own store; the directory goes when the test process ends.
_SCENARIO_DIR = tempfile.TemporaryDirectory(prefix="govshare-file-scenarios-")
SCENARIO_STORE = LocalStore(Path(_SCENARIO_DIR.name))


@dataclass
class FileWorld:
    """A provider with a published, unconditional file resource (and a table resource),
    a consumer department, and the operator."""

    db: Session
    op: Actor
    provider: Organization
    provider_officer: Actor
    provider_staff: Actor
    consumer: Organization
    consumer_officer: Actor
    resource: Resource  # shared as files
    table: Resource  # shared as a table: not a file resource

    @property
    def code(self) -> str:
        return self.resource.code


def file_world(db: Session, op: Actor | None = None) -> FileWorld:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        if op is None:
            op, _ = operator(db)
        provider = organization(db, "市统计局")
        provider_officer = actor_of(user(db, provider, [Role.DATA_OFFICER]))
        provider_staff = actor_of(user(db, provider, [Role.DEPARTMENT_STAFF]))
        consumer = organization(db, "市民政局")
        consumer_officer = actor_of(user(db, consumer, [Role.DATA_OFFICER]))
        resource = published(
            db,
            provider_officer,
            op,
            name="常住人口统计季报",
            summary="全市常住人口按区县、年龄段的季度统计报表",
            format="electronic_file",
            format_detail="PDF",
            share_methods=["file"],
            items=[],
        )
        table = published(db, provider_officer, op, name="统计调查对象名录")
    return FileWorld(
        db,
        op,
        provider,
        provider_officer,
        provider_staff,
        consumer,
        consumer_officer,
        resource,
        table,
    )


def pieces(data: bytes, size: int = 16 * 1024) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def upload(
    fw: FileWorld,
    store: FileStore,
    data: bytes = REPORT,
    *,
    filename: str = REPORT_NAME,
    actor: Actor | None = None,
    **kw: Any,
) -> FileVersion:
    """A version uploaded by the provider's staff (or `actor`)."""
    return files.upload_version(
        fw.db,
        actor=actor or fw.provider_staff,
        store=store,
        resource_code=fw.code,
        filename=filename,
        content_type=kw.pop("content_type", "application/pdf"),
        chunks=pieces(data),
        **kw,
    )


def direct_grant(fw: FileWorld) -> Grant:
    """The consumer's grant for the file resource (unconditional: no review)."""
    return grants.request_direct_access(
        fw.db,
        actor=fw.consumer_officer,
        rules=SHANGRAO.rules,
        data=DirectAccessIn(
            resource_id=fw.resource.id,
            purpose="开展最低生活保障对象年度复核",
            system_id=system_of(fw.db, fw.consumer_officer.organization_id),
            accept_restrictions=True,
        ),
    )


def _world(w: World) -> FileWorld:
    return file_world(w.db, w.op)


def _with_version(w: World) -> FileWorld:
    fw = _world(w)
    upload(fw, SCENARIO_STORE)
    direct_grant(fw)
    return fw


def _download(w: World) -> bytes:
    fw = _with_version(w)
    opened = files.open_version(
        fw.db, actor=fw.consumer_officer, store=SCENARIO_STORE, resource_code=fw.code
    )
    return b"".join(opened.chunks())


FILE_SCENARIOS: dict[str, Writes | Reads] = {
    FILES + "upload_version": Writes(
        "exchange.file.upload", lambda w: upload(_world(w), SCENARIO_STORE)
    ),
    FILES + "open_version": Writes("exchange.file.download", _download),
    FILES + "list_versions": Reads(
        prepare=_with_version,
        call=lambda w: files.list_versions(
            w.db, actor=w.prepared.consumer_officer, resource_code=w.prepared.code
        ),
    ),
    FILES + "get_file_resource": Reads(
        prepare=_with_version,
        call=lambda w: files.get_file_resource(
            w.db, actor=w.prepared.provider_officer, resource_code=w.prepared.code
        ),
    ),
    FILES + "file_resources": Reads(
        prepare=_with_version,
        call=lambda w: files.file_resources(w.db, actor=w.prepared.consumer_officer),
    ),
    FILES + "is_file_resource": READ_ONLY,
    FILES + "link": READ_ONLY,
}
