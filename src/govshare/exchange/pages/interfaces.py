"""Exchange pages: service interfaces (服务接口, EXC-4) — the interfaces a department provides
or holds grants for, the provider's registration form (endpoint rows or an OpenAPI upload),
and an interface's page: endpoints, the gateway address, example calls under the viewer's
grant, the provider's call statistics and the recent usage log."""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from govshare.core import clock
from govshare.core.errors import DomainError, Forbidden, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.exchange.gateway import example_call, gateway_address
from govshare.exchange.models import ServiceInterface
from govshare.exchange.service import gateway_log, interfaces
from govshare.exchange.service.interfaces import MANAGERS, METHODS, STAT_PERIODS, InterfaceIn
from govshare.sharing.models import Grant
from govshare.sharing.service import grants
from govshare.sharing.service.common import oversees
from govshare.web.deps import CSRF_FIELD, DB, PageActor, runtime_of
from govshare.web.forms import field_errors, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()
TEMPLATES = "exchange/interfaces/"
ROWS = ("endpoint_method", "endpoint_path", "endpoint_summary")


def bytes_label(size: int | None) -> str:
    """A byte count as people read it: 1.5 MB rather than 1572864."""
    value = float(size or 0)
    for unit in ("字节", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "字节" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def ms_label(value: float | None) -> str:
    """A duration in the clerk's units: 11.2 毫秒, or 1.5 秒 from a second on."""
    if value is None:
        return "—"
    return f"{value:.1f} 毫秒" if value < 1000 else f"{value / 1000:.1f} 秒"


# What a gateway answer's status meant to the caller, in words (the number stays beside it).
STATUS_WORDS = {
    400: "请求有误",
    401: "未带令牌或令牌无效",
    403: "无权调用",
    404: "不存在",
    405: "请求方法不对",
    413: "请求过大",
    422: "请求参数有误",
    429: "超过调用频率",
    502: "上游服务出错",
    503: "上游服务不可用",
    504: "上游服务超时",
}


def status_label(status: int) -> str:
    """A call's status as words: 成功 for 2xx, the reason for a refusal or a failure."""
    if 200 <= status < 300:
        return "成功"
    if status in STATUS_WORDS:
        return STATUS_WORDS[status]
    if status >= 500:
        return "上游服务出错"
    return "未成功" if status >= 400 else "已转发"


def caller_label(caller: str) -> str:
    """Who called, as the log shows it: a token by its prefix, or no token at all."""
    if caller in ("", "anonymous"):
        return "未带令牌"
    if caller.startswith("token:"):
        return f"接口令牌 {caller.removeprefix('token:')}"
    return caller


async def _interface_form(request: Request) -> dict[str, Any]:
    """The posted form: single fields as text, endpoint rows as dicts, the OpenAPI file's text."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        if key in ROWS or key == CSRF_FIELD:
            continue
        value = form.get(key)
        if isinstance(value, str):
            data[key] = value.strip()
    columns = [[str(v).strip() for v in form.getlist(name)] for name in ROWS]
    data["endpoints"] = [
        {"method": method or "GET", "path": path, "summary": summary}
        for method, path, summary in zip(*columns, strict=False)
        if path or summary
    ]
    upload = form.get("openapi")
    data["openapi_text"] = ""
    if isinstance(upload, UploadFile) and upload.filename:
        data["openapi_text"] = (await upload.read()).decode("utf-8", errors="replace")
        data["openapi_name"] = upload.filename
    return data


InterfaceForm = Annotated[dict[str, Any], Depends(_interface_form)]


def _document(text: str) -> dict[str, Any]:
    """An uploaded OpenAPI document, JSON or YAML."""
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = None
    if not isinstance(document, dict):
        raise Invalid("OpenAPI 文档不是合法的 JSON 或 YAML", field="openapi")
    return document


def _input(form: dict[str, Any], current: ServiceInterface | None = None) -> InterfaceIn:
    """The service input from the form. Without a new upload, an interface registered from an
    OpenAPI document keeps it as long as its endpoint rows were left as they were."""
    fields: dict[str, Any] = {"base_url": form.get("base_url", "")}
    if form.get("timeout_seconds"):
        fields["timeout_seconds"] = form["timeout_seconds"]
    rows = form.get("endpoints", [])
    if form.get("openapi_text"):
        fields["openapi"] = _document(form["openapi_text"])
    elif current is not None and current.openapi is not None and _unchanged(current, rows):
        fields["openapi"] = current.openapi
    else:
        fields["endpoints"] = rows
    return InterfaceIn.model_validate(fields)


def _unchanged(interface: ServiceInterface, rows: list[dict[str, str]]) -> bool:
    stated = [(r["method"].upper(), r["path"], r["summary"]) for r in rows]
    return stated == [(e.method, e.path, e.summary) for e in interface.endpoints]


def _form_context(form: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "errors": extra.pop("errors", {}),
        "methods": METHODS,
        "resources": extra.pop("resources", []),
        **extra,
    }


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    exc: ValidationError | DomainError,
    form: dict[str, Any],
    **extra: Any,
) -> Response:
    """The form again, as typed, with each error beside its field."""
    db_session.rollback()
    errors = field_errors(exc)
    if "openapi" in errors:
        errors.setdefault("_", errors["openapi"])
    context = _form_context(form, errors=errors, **extra)
    if extra.get("mode") == "new":
        context["resources"] = interfaces.registrable_resources(db_session, actor=actor)
    status = exc.status if isinstance(exc, DomainError) else 422
    return render(request, TEMPLATES + "form.html", context, status)


@router.get("/exchange/interfaces", response_class=HTMLResponse)
def interface_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = interfaces.list_interfaces(db_session, actor=actor)
    registrable = (
        interfaces.registrable_resources(db_session, actor=actor) if actor.has(*MANAGERS) else []
    )
    base = str(request.base_url)
    return render(
        request,
        TEMPLATES + "list.html",
        {
            "rows": rows,
            "registrable": registrable,
            "address": lambda i: gateway_address(base, i.resource.code),
            "provides": lambda i: actor.organization_id == i.resource.provider_id,
            "oversees": oversees(actor),
        },
    )


@router.get("/exchange/interfaces/new", response_class=HTMLResponse)
def new_form(request: Request, db_session: DB, actor: PageActor, resource_id: str = "") -> Response:
    resources = interfaces.registrable_resources(db_session, actor=actor)
    timeout = runtime_of(request).settings.gateway_timeout_seconds
    form = {"resource_id": optional_id(resource_id), "timeout_seconds": f"{timeout:g}"}
    context = _form_context(form, resources=resources, mode="new")
    return render(request, TEMPLATES + "form.html", context)


@router.post("/exchange/interfaces/new", response_class=HTMLResponse)
def register(request: Request, db_session: DB, actor: PageActor, form: InterfaceForm) -> Response:
    resource_id = optional_id(form.get("resource_id"))
    try:
        if resource_id is None:
            raise Invalid("请选择要发布服务接口的资源", field="resource_id")
        interface = interfaces.register_interface(
            db_session,
            actor=actor,
            resource_id=resource_id,
            data=_input(form),
            default_timeout=runtime_of(request).settings.gateway_timeout_seconds,
        )
    except (ValidationError, DomainError) as exc:
        form["resource_id"] = resource_id
        return _failed(request, db_session, actor, exc, form, mode="new")
    return redirect(
        f"/exchange/interfaces/{interface.id}",
        f"服务接口已登记：{len(interface.endpoints)} 个接口已通过网关发布",
    )


def _edit_form(interface: ServiceInterface) -> dict[str, Any]:
    return {
        "base_url": interface.base_url,
        "timeout_seconds": f"{interface.timeout_seconds:g}",
        "endpoints": [
            {"method": e.method, "path": e.path, "summary": e.summary} for e in interface.endpoints
        ],
    }


@router.get("/exchange/interfaces/{interface_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, db_session: DB, actor: PageActor, interface_id: Id) -> Response:
    interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
    if not interfaces.can_manage(actor, interface):  # the form shows the provider's address
        raise Forbidden("只有资源提供部门或平台管理单位可以修改服务接口")
    context = _form_context(_edit_form(interface), interface=interface, mode="edit")
    return render(request, TEMPLATES + "form.html", context)


@router.post("/exchange/interfaces/{interface_id}/edit", response_class=HTMLResponse)
def update(
    request: Request, db_session: DB, actor: PageActor, interface_id: Id, form: InterfaceForm
) -> Response:
    interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
    if not interfaces.can_manage(actor, interface):
        raise Forbidden("只有资源提供部门或平台管理单位可以修改服务接口")
    try:
        interfaces.update_interface(
            db_session,
            actor=actor,
            interface_id=interface_id,
            data=_input(form, interface),
            default_timeout=runtime_of(request).settings.gateway_timeout_seconds,
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
        return _failed(request, db_session, actor, exc, form, interface=interface, mode="edit")
    return redirect(f"/exchange/interfaces/{interface_id}", "服务接口已修改，下一次调用即生效")


def _grant_examples(
    grant: Grant, interface: ServiceInterface, address: str, default_limit: int
) -> dict[str, Any]:
    """A grant the viewer's department holds: what it may call, how often, and how."""
    allowed = list(interface.endpoints)
    if grant.endpoints:
        allowed = [e for e in allowed if e.signature in grant.endpoints]
    return {
        "grant": grant,
        "status": grants.status_label(grant, clock.today()),
        "usable": grant.usable(clock.today()),
        "endpoints": [e.signature for e in allowed],
        "rate_limit": grant.rate_limit or default_limit,
        "examples": [example_call(address, e.signature) for e in allowed],
        "summaries": [e.summary or e.signature for e in allowed],
    }


@router.get("/exchange/interfaces/{interface_id}", response_class=HTMLResponse)
def detail(
    request: Request,
    db_session: DB,
    actor: PageActor,
    interface_id: Id,
    days: Annotated[int, Query(ge=1, le=max(STAT_PERIODS))] = 7,
) -> Response:
    interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
    settings = runtime_of(request).settings
    address = gateway_address(str(request.base_url), interface.resource.code)
    upstream = interfaces.sees_upstream(actor, interface)
    held = interfaces.consumer_grants(db_session, actor=actor, interface_id=interface_id)
    days = days if days in STAT_PERIODS else STAT_PERIODS[0]
    return render(
        request,
        TEMPLATES + "detail.html",
        {
            "interface": interface,
            "version": interface.resource.current_version,
            "address": address,
            "upstream": upstream,
            "can_manage": interfaces.can_manage(actor, interface),
            "held": [
                _grant_examples(g, interface, address, settings.gateway_rate_limit) for g in held
            ],
            "example": example_call(address, interface.endpoints[0].signature)
            if interface.endpoints
            else "",
            "days": days,
            "periods": STAT_PERIODS,
            "stats": gateway_log.call_stats(
                db_session, actor=actor, interface_id=interface_id, days=days
            )
            if upstream
            else None,
            "log": gateway_log.call_log(
                db_session, actor=actor, interface_id=interface_id, limit=50
            ),
            "bytes_label": bytes_label,
            "ms_label": ms_label,
            "status_label": status_label,
            "caller_label": caller_label,
            "oversees": oversees(actor),
        },
    )
