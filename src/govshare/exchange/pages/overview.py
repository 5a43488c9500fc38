"""Exchange pages: the overview (交换概览) — connections, bindings and today's sync runs in
counts with where to act — and the resource page's "如何获取数据" panel (BZ§14): the
addresses a consumer's system calls for a resource's table data, file or service interface,
and what the viewer's grant lets that call return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ShareType
from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.exchange.models import (
    BindingState,
    FileVersion,
    RunState,
    ServiceEndpoint,
    ServiceInterface,
    TableBinding,
)
from govshare.exchange.pages.connections import bindable_resources
from govshare.exchange.service import bindings, connections, files, interfaces, pushes, run_views
from govshare.sharing.models import Grant
from govshare.sharing.service import grants as sharing_grants
from govshare.sharing.service.common import (
    APPLICANTS,
    READERS,
    load_filter,
    load_masking,
    oversees,
)
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter()

LATEST_RUNS = 10


# --- the overview -------------------------------------------------------------------------


def _day_start() -> datetime:
    """Midnight today in the city, the start of "today" for the run counts."""
    return datetime.combine(clock.today(), time.min, tzinfo=clock.CITY_TZ)


@dataclass
class UsableData:
    """A grant the department may use today and where on the platform its data is taken."""

    grant: Grant
    query: str = ""  # the online query page, when the provider syncs the table
    file: str = ""  # the file page, for a file resource
    interface: str = ""  # the service interface page, when the provider published one


def usable_data(db_session: Session, actor: Actor) -> list[UsableData]:
    """The department's grants usable today, each with the pages that deliver its data.
    Reads the exchange rows directly and writes nothing: listing is not a data access."""
    if not actor.has(*APPLICANTS) or actor.organization_id is None:
        return []
    today = clock.today()
    held = [g for g in sharing_grants.my_grants(db_session, actor=actor) if g.usable(today)]
    ids = {g.resource_id for g in held}
    if not ids:
        return []
    bound = set(
        db_session.execute(
            select(TableBinding.resource_id).where(TableBinding.resource_id.in_(ids))
        ).scalars()
    )
    services: dict[int, int] = {
        resource_id: interface_id
        for resource_id, interface_id in db_session.execute(
            select(ServiceInterface.resource_id, ServiceInterface.id).where(
                ServiceInterface.resource_id.in_(ids)
            )
        )
    }
    out = []
    for grant in held:
        resource = grant.resource
        interface = services.get(resource.id)
        out.append(
            UsableData(
                grant=grant,
                query=f"/exchange/data/{resource.code}" if resource.id in bound else "",
                file=files.link(resource)
                if files.is_file_resource(resource.current_version)
                else "",
                interface=f"/exchange/interfaces/{interface}" if interface else "",
            )
        )
    return out


def overview_context(db_session: Session, actor: Actor) -> dict[str, Any]:
    """What the exchange overview shows the actor, each count scoped as its list page is."""
    conns = (
        connections.list_connections(db_session, actor=actor)
        if actor.has(*connections.VIEWERS)
        else None
    )
    found = bindings.list_bindings(db_session, actor=actor) if actor.has(*bindings.VIEWERS) else []
    today = (
        run_views.summary(db_session, actor=actor, since=_day_start(), latest=LATEST_RUNS)
        if actor.has(*bindings.VIEWERS)
        else run_views.RunSummary({}, [], everyone=False)
    )
    bound = {b.resource_id for b in found}
    return {
        "connections": conns,
        "failing": [c for c in conns or [] if c.last_tested_at and not c.last_test_ok],
        "bindings": found,
        "active": [b for b in found if b.state is BindingState.ACTIVE],
        "paused": [b for b in found if b.state is BindingState.PAUSED],
        "unbound": [r for r in bindable_resources(db_session, actor) if r.id not in bound],
        "succeeded": today.count(RunState.SUCCEEDED),
        "failed": today.count(RunState.FAILED),
        "waiting": today.count(RunState.QUEUED, RunState.RUNNING),
        "latest": today.latest,
        "everyone": today.everyone,
        "usable": usable_data(db_session, actor),
        "sees_pushes": actor.has(*pushes.VIEWERS),
        "is_department": actor.organization_id is not None and not oversees(actor),
    }


@router.get("/exchange", response_class=HTMLResponse)
def overview(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "exchange/overview.html", overview_context(db_session, actor))


# --- the resource page's panel --------------------------------------------------------------


def _held_grant(
    db_session: Session, actor: Actor, resource: Resource
) -> tuple[Grant | None, Grant | None]:
    """The viewer's department's usable grant for the resource, else its latest one (which
    the panel explains: suspended, expired, not yet valid)."""
    if not actor.has(*READERS) or actor.organization_id is None:
        return None, None
    held = [
        g for g in sharing_grants.my_grants(db_session, actor=actor) if g.resource_id == resource.id
    ]
    today = clock.today()
    usable = next((g for g in held if g.usable(today)), None)
    return usable, (held[0] if held and usable is None else None)


def _scope(grant: Grant) -> dict[str, Any]:
    """The grant's scope as `sharing/_scope_macros.html` shows it. Built here rather than
    taken from the sharing pages, which import the catalog pages this panel is part of."""
    return {
        "whole": grant.whole_resource,
        "fields": list(grant.fields),
        "conditions": [c.describe() for c in load_filter(grant.row_filter)],
        "masks": [m.describe() for m in load_masking(grant.masking)],
    }


def _apply_link(resource: Resource) -> tuple[str, str] | None:
    """Where a department without a grant goes to get one, by the resource's share type."""
    version = resource.current_version
    assert version is not None
    if version.share_type is ShareType.CONDITIONAL:
        return "申请使用", f"/sharing/applications/new?resource={resource.id}"
    if version.share_type is ShareType.UNCONDITIONAL:
        return "获取授权（无需审核）", "#sharing-panel"
    return "发起协调", f"/sharing/cases/new?resource={resource.id}"


def _table_part(db_session: Session, resource: Resource) -> dict[str, Any] | None:
    version = resource.current_version
    assert version is not None
    state = db_session.execute(
        select(TableBinding.state).where(TableBinding.resource_id == resource.id)
    ).scalar_one_or_none()
    if state is None and not bindings.is_table_version(version):
        return None
    first = version.items[0].name if version.items else "信息项名称"
    return {"bound": state is not None, "paused": state is BindingState.PAUSED, "item": first}


def _file_part(db_session: Session, resource: Resource) -> dict[str, Any] | None:
    version = resource.current_version
    assert version is not None
    latest = db_session.execute(
        select(FileVersion)
        .where(FileVersion.resource_id == resource.id)
        .order_by(FileVersion.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is None and not files.is_file_resource(version):
        return None
    return {"latest": latest}


def _service_part(
    db_session: Session, resource: Resource, grant: Grant | None
) -> dict[str, Any] | None:
    version = resource.current_version
    assert version is not None
    service = db_session.execute(
        select(ServiceInterface).where(ServiceInterface.resource_id == resource.id)
    ).scalar_one_or_none()
    if service is None:
        if not interfaces.offers_service(version):
            return None
        return {"registered": False, "endpoints": [], "example": None}
    endpoints: list[ServiceEndpoint] = list(service.endpoints)
    allowed = set(grant.endpoints) if grant is not None and grant.endpoints else None
    example = next(
        (e for e in endpoints if allowed is None or e.signature in allowed),
        endpoints[0] if endpoints else None,
    )
    return {"registered": True, "id": service.id, "endpoints": endpoints, "example": example}


def access_panel_context(db_session: Session, actor: Actor, resource: Resource) -> dict[str, Any]:
    """The "如何获取数据" panel of a published resource (empty: nothing to show). Reads the
    exchange rows directly and writes nothing: viewing a page is not a data access."""
    version = resource.current_version
    if resource.status is not ResourceStatus.PUBLISHED or version is None:
        return {}
    provider = actor.organization_id == resource.provider_id
    grant, other = (None, None) if provider else _held_grant(db_session, actor, resource)
    parts = {
        "table": _table_part(db_session, resource),
        "file": _file_part(db_session, resource),
        "service": _service_part(db_session, resource, grant),
    }
    if not any(parts.values()):
        return {}
    today = clock.today()
    return {
        "code": resource.code,
        **parts,
        "provider": provider,
        "grant": grant,
        "scope": _scope(grant) if grant else None,
        "other": other,
        "other_status": sharing_grants.status_label(other, today) if other else "",
        "apply": _apply_link(resource) if actor.has(*APPLICANTS) and not provider else None,
    }
