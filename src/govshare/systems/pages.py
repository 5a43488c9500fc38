"""Information systems register pages (政务信息系统目录): the list with its filters and the
register form, a system's page with its private lines and the forms that keep it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from govshare.core import clock
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.systems import schemas
from govshare.systems import service as systems_service
from govshare.systems.models import SystemLevel, SystemState
from govshare.web.deps import DB, PageActor
from govshare.web.forms import PostedForm, attempt, filled, form_states, optional_id, validated
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

YES_NO = {"yes": True, "no": False}
DETAIL_FORMS = ("edit", "connection", "line", "close", "retire")


def _flag(value: str) -> bool | None:
    return YES_NO.get(value)


def _form_in(model: type[BaseModel], form: dict[str, Any], **fixed: Any) -> Any:
    data = filled(form) | fixed
    for key in ("classified",):
        if key in model.model_fields:
            data[key] = form.get(key) == "on"
    return validated(model, data)


def _list_context(
    db_session: DB, actor: Actor, query: dict[str, str], **extra: Any
) -> dict[str, Any]:
    oversees = actor.has(*systems_service.OVERSEERS)
    state = query.get("state", SystemState.IN_USE.value)
    level = query.get("level", "")
    filters = systems_service.SystemFilter(
        organization_id=optional_id(query.get("organization_id")) if oversees else None,
        state=SystemState(state) if state in {s.value for s in SystemState} else None,
        level=SystemLevel(level) if level in {s.value for s in SystemLevel} else None,
        connected=_flag(query.get("connected", "")),
        open_lines=_flag(query.get("open_lines", "")),
        keyword=query.get("keyword", "").strip()[:100],
    )
    systems = systems_service.list_systems(db_session, actor=actor, filters=filters)
    managers = actor.has(*systems_service.MANAGERS)
    return {
        "systems": systems,
        "oversees": oversees,
        "can_register": managers,
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "organizations": identity_service.list_organizations(db_session, actor=actor)
        if oversees or managers
        else [],
        "query": query | {"state": state},
        "levels": list(SystemLevel),
        "states": list(SystemState),
        "today": clock.today(),
        "form": {},
        "errors": {},
        **extra,
    }


@router.get("/systems", response_class=HTMLResponse)
def system_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    return render(request, "systems/list.html", _list_context(db_session, actor, query))


@router.post("/systems", response_class=HTMLResponse)
def system_register(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    created: list[int] = []

    def step() -> str:
        data = _form_in(schemas.SystemIn, form)
        system = systems_service.register_system(db_session, actor=actor, data=data)
        created.append(system.id)
        return f"已登记信息系统“{system.name}”。接入共享平台后请在本页登记接入日期"

    def again(errors: dict[str, str], status: int) -> Response:
        context = _list_context(db_session, actor, {}, form=form, errors=errors)
        return render(request, "systems/list.html", context, status)

    response = attempt(db_session, step, done="/systems", again=again)
    if created:
        response.headers["location"] = f"/systems/{created[0]}"
    return response


def _detail_context(
    db_session: DB,
    actor: Actor,
    system_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    system = systems_service.get_system(db_session, actor=actor, system_id=system_id)
    shown, values = form_states(DETAIL_FORMS, failed, form, errors)
    if failed != "edit":
        values["edit"] = {
            "name": system.name,
            "purpose": system.purpose,
            "owner": system.owner,
            "level": system.level.value,
            "classified": "on" if system.classified else "",
        }
    return {
        "system": system,
        "may": systems_service.permitted(actor, system),
        "levels": list(SystemLevel),
        "today": clock.today(),
        "errors": shown,
        "values": values,
        "failed_line": (form or {}).get("line_id", "") if failed == "close" else "",
    }


def _detail_write(
    request: Request,
    db_session: DB,
    actor: Actor,
    system_id: int,
    name: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        if "system_id" in errors:  # about the system itself: shown at the top of the form
            errors.setdefault("_", errors.pop("system_id"))
        context = _detail_context(db_session, actor, system_id, name, form, errors)
        return render(request, "systems/detail.html", context, status)

    return attempt(db_session, step, done=f"/systems/{system_id}", again=again)


@router.get("/systems/{system_id}", response_class=HTMLResponse)
def system_detail(request: Request, db_session: DB, actor: PageActor, system_id: Id) -> Response:
    return render(request, "systems/detail.html", _detail_context(db_session, actor, system_id))


@router.post("/systems/{system_id}", response_class=HTMLResponse)
def system_update(
    request: Request, db_session: DB, actor: PageActor, system_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = _form_in(schemas.SystemIn, form)
        systems_service.update_system(db_session, actor=actor, system_id=system_id, data=data)
        return "已保存"

    return _detail_write(request, db_session, actor, system_id, "edit", form, step)


@router.post("/systems/{system_id}/connection", response_class=HTMLResponse)
def system_connection(
    request: Request, db_session: DB, actor: PageActor, system_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = _form_in(schemas.ConnectionIn, form)
        systems_service.record_connection(db_session, actor=actor, system_id=system_id, data=data)
        return "已登记接入共享平台"

    return _detail_write(request, db_session, actor, system_id, "connection", form, step)


@router.post("/systems/{system_id}/lines", response_class=HTMLResponse)
def line_add(
    request: Request, db_session: DB, actor: PageActor, system_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = _form_in(schemas.PrivateLineIn, form)
        line = systems_service.add_private_line(
            db_session, actor=actor, system_id=system_id, data=data
        )
        return f"已登记专线，计划于 {line.planned_close_on.isoformat()} 前关闭"

    return _detail_write(request, db_session, actor, system_id, "line", form, step)


@router.post("/systems/{system_id}/lines/{line_id}/close", response_class=HTMLResponse)
def line_close(
    request: Request,
    db_session: DB,
    actor: PageActor,
    system_id: Id,
    line_id: Id,
    form: PostedForm,
) -> Response:
    def step() -> str:
        data = _form_in(schemas.LineClosureIn, form)
        systems_service.close_private_line(db_session, actor=actor, line_id=line_id, data=data)
        return "已登记专线关闭"

    form = form | {"line_id": str(line_id)}
    return _detail_write(request, db_session, actor, system_id, "close", form, step)


@router.post("/systems/{system_id}/retire", response_class=HTMLResponse)
def system_retire(
    request: Request, db_session: DB, actor: PageActor, system_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = _form_in(schemas.RetireIn, form)
        system = systems_service.retire_system(
            db_session, actor=actor, system_id=system_id, data=data
        )
        return f"“{system.name}”已停用"

    return _detail_write(request, db_session, actor, system_id, "retire", form, step)
