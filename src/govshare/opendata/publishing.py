"""Publishing (发布到开放门户): the platform copies what is open, one way, into the portal's
own database, as a gatekeeper (网闸) between the government network and the internet would.

`publish` brings the portal in line with the platform: every open release whose resource is
still published is copied when the portal lacks it, when the release or its catalog entry
changed, or when the center's data was synchronised since the last copy; every dataset on the
portal without an open release (withdrawn, or its resource retired) is removed. It is
idempotent, runs after a confirmation, hourly on the worker and from `govshare opendata
publish`, and each copy or removal is audited on the platform.

Only the open view leaves the platform: the release's items, the rows its filter admits,
masked in the center's own SELECT (the grant machinery of `exchange.service.delivery`), and
the catalog entry's public facts. The portal database never sees a platform row otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceFormat, ResourceStatus
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange.center import Center
from govshare.exchange.models import RunState, SyncRun, TableBinding
from govshare.exchange.service.delivery.statements import (
    BATCH_ROWS,
    _reader,
    grant_scope,
    masking_key,
    scoped_query,
)
from govshare.identity.models import Organization
from govshare.opendata.models import OpenRelease, ReleaseState
from govshare.portal.catalog import dataset_terms
from govshare.portal.db import PortalDatabase
from govshare.portal.models import (
    SCHEMA_VERSION,
    PortalApplication,
    PortalDataset,
    PortalDatasetTag,
    PortalEntitlement,
    PortalField,
    PortalMeta,
    PortalOrganization,
    PortalRelease,
    PortalUsageDay,
    rows_table,
    rows_table_name,
)
from govshare.sharing.models import MaskRule

# The center's portable column types as the portal stores them (masked values are text).
PORTAL_TYPES = {"bigint": "integer", "integer": "integer"}
FILE_FORMATS = (ResourceFormat.ELECTRONIC_FILE, ResourceFormat.IMAGE)


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)  # codes copied
    removed: list[str] = field(default_factory=list)  # codes taken off the portal
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # "code: reason"


def slug(code: str) -> str:
    return code.lower().replace("/", "-")


def _kind(release: OpenRelease) -> str:
    fmt = release.resource.current_version.format if release.resource.current_version else None
    if fmt is ResourceFormat.SERVICE_INTERFACE:
        return "service"
    return "file" if fmt in FILE_FORMATS else "table"


def _last_sync(db_session: Session, binding: TableBinding | None) -> datetime | None:
    """When the center last received changed rows for the binding."""
    if binding is None:
        return None
    return db_session.scalar(
        select(sa.func.max(SyncRun.finished_at)).where(
            SyncRun.binding_id == binding.id,
            SyncRun.state == RunState.SUCCEEDED,
            # a run that changed nothing is no new data for the portal
            sa.or_(SyncRun.rows_written > 0, SyncRun.rows_deleted > 0),
        )
    )


def _publisher_name(db_session: Session) -> str:
    """The platform operator's organisation (the portal's publisher)."""
    from govshare.identity.models import User, UserRole

    name = db_session.scalar(
        select(Organization.name)
        .join(User, User.organization_id == Organization.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.PLATFORM_OPERATOR.value)
        .order_by(Organization.id)
        .limit(1)
    )
    return name or ""


def publish(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    center: Center,
    portal: PortalDatabase,
    city_name: str,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PublishReport:
    """Bring the portal database in line with the open releases (see the module)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="发布开放数据")
    portal.ensure_schema()
    report = PublishReport()
    now = clock.now()
    _retire_closed(db_session, actor)
    releases = list(
        db_session.scalars(
            select(OpenRelease)
            .join(Resource, Resource.id == OpenRelease.resource_id)
            .where(
                OpenRelease.state == ReleaseState.OPEN,
                Resource.status == ResourceStatus.PUBLISHED,
            )
            .order_by(OpenRelease.id)
        )
    )
    with portal.session() as ps:
        meta = ps.get(PortalMeta, 1) or PortalMeta(id=1)
        meta.schema_version = SCHEMA_VERSION
        meta.city_name = city_name
        meta.publisher_name = _publisher_name(db_session) or city_name
        meta.licence_title = f"{city_name}公共数据开放许可协议"
        meta.licence_url = ""
        meta.updated_at = now
        ps.add(meta)
        on_portal = {d.id: d for d in ps.scalars(select(PortalDataset))}
    open_ids = {r.resource_id for r in releases}
    for dataset_id, dataset in on_portal.items():
        if dataset_id not in open_ids:
            _remove(portal, dataset_id)
            report.removed.append(dataset.code)
            record(
                db_session,
                actor=actor,
                action="opendata.unpublish",
                object_type="resource",
                object_id=dataset_id,
                details={"resource": dataset.code},
            )
    for release in releases:
        binding = db_session.scalars(
            select(TableBinding).where(TableBinding.resource_id == release.resource_id)
        ).one_or_none()
        synced = _last_sync(db_session, binding)
        current = on_portal.get(release.resource_id)
        due = (
            force
            or current is None
            or release.published_at is None
            or (release.decided_at is not None and release.decided_at > release.published_at)
            or (
                synced is not None
                and (current.data_updated is None or synced > current.data_updated)
            )
        )
        if not due:
            report.unchanged += 1
            continue
        if progress:
            progress(release.resource.code)
        try:
            rows = _copy(db_session, release, binding, settings, center, portal, synced)
        except DomainError as exc:
            report.problems.append(f"{release.resource.code}: {exc}")
            continue
        release.published_at = clock.now()
        release.published_rows = rows
        release.publications += 1
        db_session.flush()
        report.published.append(release.resource.code)
        record(
            db_session,
            actor=actor,
            action="opendata.publish",
            object_type="open_release",
            object_id=release.id,
            details={"resource": release.resource.code, "rows": rows, "fields": release.fields},
        )
    return report


def _retire_closed(db_session: Session, actor: Actor) -> None:
    """Open releases of resources no longer published are withdrawn (资源已下架)."""
    stale = db_session.scalars(
        select(OpenRelease)
        .join(Resource, Resource.id == OpenRelease.resource_id)
        .where(
            OpenRelease.state == ReleaseState.OPEN,
            Resource.status != ResourceStatus.PUBLISHED,
        )
    )
    for release in stale:
        release.state = ReleaseState.WITHDRAWN
        release.withdrawn_at = release.updated_at = clock.now()
        release.withdrawn_by = actor.label
        release.withdrawal_reason = "资源已下架"
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="opendata.release.withdraw",
            object_type="open_release",
            object_id=release.id,
            details={"resource": release.resource.code, "was_open": True, "reason": "资源已下架"},
        )


def _remove(portal: PortalDatabase, dataset_id: int) -> None:
    """Take a dataset off the portal: its rows, fields, history, and the public's
    applications and entitlements on it (the platform keeps its own copy of every application
    it has read, `opendata_public_application`)."""
    with portal.session() as ps:
        ps.execute(sa.text(f'DROP TABLE IF EXISTS "{rows_table_name(dataset_id)}"'))
        ps.execute(sa.delete(PortalEntitlement).where(PortalEntitlement.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalApplication).where(PortalApplication.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalUsageDay).where(PortalUsageDay.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalDatasetTag).where(PortalDatasetTag.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalField).where(PortalField.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalRelease).where(PortalRelease.dataset_id == dataset_id))
        ps.execute(sa.delete(PortalDataset).where(PortalDataset.id == dataset_id))


def _mask_label(mask: dict[str, Any]) -> str:
    """The rule's label, as the portal shows it after "已脱敏：" (PortalField.masking)."""
    rule = MaskRule(mask["rule"])
    return rule.label.replace(" n ", f" {mask['n']} ") if mask.get("n") else rule.label


def _copy(
    db_session: Session,
    release: OpenRelease,
    binding: TableBinding | None,
    settings: Settings,
    center: Center,
    portal: PortalDatabase,
    synced: datetime | None,
) -> int | None:
    """Copy one release to the portal in one portal transaction; the rows it copied."""
    resource = release.resource
    version = resource.current_version
    assert version is not None
    items = {item.name: item for item in version.items}
    masks = {m["field"]: m for m in release.masking}
    kind = _kind(release)
    scope = None
    if (
        kind == "table"
        and binding is not None
        and sa.inspect(center.engine).has_table(binding.center_table, schema=center.schema)
    ):
        scope = grant_scope(binding, release)  # type: ignore[arg-type]
    if scope is not None:
        open_fields = [(f.item, f.column, f.type) for f in scope.fields]
    else:
        open_fields = [(name, "", "text") for name in release.fields if name in items]
    fields = [
        PortalField(
            position=i,
            name=name,
            column=f"c{i}",
            type="text" if name in masks else PORTAL_TYPES.get(type_, type_),
            description=items[name].description if name in items else "",
            masking=_mask_label(masks[name]) if name in masks else "",
        )
        for i, (name, _, type_) in enumerate(open_fields)
    ]
    org = resource.provider
    terms, title_terms = dataset_terms(
        version.name,
        version.summary,
        [(f.name, f.description) for f in fields],
        [org.name, version.domain.label, *release.tags],
    )
    now = clock.now()
    with portal.session() as ps:
        organization = ps.get(PortalOrganization, org.id) or PortalOrganization(
            id=org.id, name=f"org-{org.id}"
        )
        organization.title = org.name
        ps.add(organization)
        dataset = ps.get(PortalDataset, resource.id)
        if dataset is None:
            dataset = PortalDataset(id=resource.id, issued=clock.today())
            ps.add(dataset)
        dataset.name = slug(resource.code)
        dataset.code = resource.code
        dataset.title = version.name
        dataset.notes = version.summary
        dataset.organization_id = org.id
        dataset.domain = version.domain.value
        dataset.domain_label = version.domain.label
        dataset.kind = kind
        dataset.format = version.format.value
        dataset.format_label = version.format.label
        dataset.update_frequency = version.update_frequency.value
        dataset.update_frequency_label = version.update_frequency.label
        dataset.open_type = release.open_type.value
        dataset.open_conditions = release.open_conditions
        dataset.tags = list(release.tags)
        dataset.version = version.number
        dataset.modified = now
        dataset.data_updated = synced
        dataset.terms = terms
        dataset.title_terms = title_terms
        ps.flush()
        ps.execute(sa.delete(PortalField).where(PortalField.dataset_id == resource.id))
        ps.flush()
        for f in fields:
            f.dataset_id = resource.id
            ps.add(f)
        ps.flush()
        connection = ps.connection()
        connection.execute(sa.text(f'DROP TABLE IF EXISTS "{rows_table_name(resource.id)}"'))
        rows: int | None = None
        if scope is not None and binding is not None:
            table = rows_table(resource.id, [(f.column, f.type) for f in fields])
            table.create(connection)
            rows = _copy_rows(binding, scope, settings, center, connection, table)
            dataset.rows_table = table.name
        else:
            dataset.rows_table = None
        dataset.row_count = rows
        ps.add(
            PortalRelease(
                dataset_id=resource.id,
                published_at=now,
                version=version.number,
                row_count=rows,
                note=_note(release),
            )
        )
    return rows


def _copy_rows(
    binding: TableBinding,
    scope: Any,
    settings: Settings,
    center: Center,
    target: sa.Connection,
    table: sa.Table,
) -> int:
    """Stream the open rows out of the center into the portal table, in batches."""
    columns = [c.name for c in table.columns if c.name != "_row"]
    stmt = scoped_query(center, binding, scope, key=masking_key(settings))
    count = 0
    with _reader(center).connect() as source:
        result = source.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(stmt)
        for batch in result.partitions(BATCH_ROWS):
            target.execute(
                table.insert(),
                [
                    {"_row": count + n, **dict(zip(columns, row, strict=True))}
                    for n, row in enumerate(batch, start=1)
                ],
            )
            count += len(batch)
    return count


def _note(release: OpenRelease) -> str:
    if release.publications == 0:
        return "首次开放"
    return (
        "数据更新"
        if release.decided_at
        and release.published_at
        and (release.decided_at <= release.published_at)
        else "开放范围或目录变更"
    )
