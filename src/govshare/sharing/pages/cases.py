"""Sharing pages: coordination cases (协调, SHR-4) — the list, opening a case, and a case's
negotiation thread with the operator's escalation and the settlement.

The scope part of the settlement form (data items, row filter, masking) is the shared macro
`sharing/_scope_macros.html`; `read_scope_form` and `parse_scope` turn its posted inputs
into a `ScopeIn`-shaped value, with every error keyed to the input it concerns.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from govshare.catalog.models import ShareType
from govshare.catalog.service import resources
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.sharing.models import (
    USE_RESTRICTIONS,
    Application,
    ApplicationState,
    Case,
    CaseState,
    RowOp,
)
from govshare.sharing.pages.scope import CHOICES, split_values
from govshare.sharing.schemas import (
    CaseIn,
    Condition,
    Mask,
    MessageIn,
    ScopeIn,
    SettlementIn,
)
from govshare.sharing.service import application_views, applications, cases
from govshare.sharing.service.common import APPLICANTS, load_filter
from govshare.systems import service as systems_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, message_of, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()
M = TypeVar("M", bound=BaseModel)

# Field labels for the messages of the checks pydantic runs on the forms' inputs.
LABELS = {
    "subject": "事项名称",
    "request": "协调诉求",
    "body": "意见",
    "reason": "理由",
    "outcome": "协调结果",
    "fields": "信息项",
    "purpose": "使用用途",
    "system_id": "使用的信息系统",
    "valid_from": "使用期限的开始日期",
    "valid_until": "使用期限的结束日期",
    "conditions": "附加条件",
}


# --- posted inputs, and pydantic's checks in the interface's words ----------------------


def _message(error: Any) -> str:
    return message_of(error, LABELS.get(str(error["loc"][0]), "") if error["loc"] else "")


def _errors(exc: ValidationError, prefix: str = "", whole: str = "_") -> list[dict[str, str]]:
    """Pydantic's errors as (field, message) rows; a whole-model error goes to `whole`."""
    rows = []
    for error in exc.errors():
        key = prefix + ".".join(str(p) for p in error["loc"]) if error["loc"] else whole
        rows.append({"field": key, "message": _message(error)})
    return rows


def _raise(rows: list[dict[str, str]]) -> None:
    if rows:
        raise Invalid(rows[0]["message"], field=rows[0]["field"], errors=rows)


def _validate(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _raise(_errors(exc, prefix))
        raise  # unreachable: a ValidationError has at least one error


async def read_scope_form(request: Request) -> dict[str, Any]:
    """A posted form whose scope part comes from `_scope_macros.html`: single inputs as
    strings, the chosen data items as `fields`, filter rows as `filters` and masking as
    `masks` (data item → rule and n)."""
    posted = await request.form()

    def many(key: str) -> list[str]:
        return [v.strip() for v in posted.getlist(key) if isinstance(v, str)]

    data: dict[str, Any] = {}
    for key in posted:
        values = many(key)
        data[key] = values[0] if values else ""
    data.pop("csrf_token", None)
    data["fields"] = [v for v in many("fields") if v]
    data["filters"] = [
        {"field": f, "op": o, "values": v}
        for f, o, v in zip(
            many("filter_field"), many("filter_op"), many("filter_values"), strict=False
        )
        if f or v
    ]
    data["masks"] = {
        f: {"rule": r, "n": n}
        for f, r, n in zip(many("mask_field"), many("mask_rule"), many("mask_n"), strict=False)
        if f and r
    }
    return data


def parse_scope(form: dict[str, Any], prefix: str = "") -> tuple[list[Condition], list[Mask]]:
    """The row filter and masking of a posted scope form, each row checked on its own so its
    error shows beside it: `{prefix}row_filter.N` (N from 1) and `{prefix}masking.<item>`."""
    rows: list[dict[str, str]] = []
    conditions: list[Condition] = []
    for number, row in enumerate(form.get("filters", []), 1):
        where = f"{prefix}row_filter.{number}"
        if not row["field"]:
            rows.append({"field": where, "message": "请选择数据范围的信息项"})
            continue
        if row["op"] not in {op.value for op in RowOp}:
            rows.append({"field": where, "message": "请选择条件"})
            continue
        values = split_values(row["values"])
        if not values:
            rows.append({"field": where, "message": f"请填写“{row['field']}”的取值"})
            continue
        try:
            conditions.append(
                Condition.model_validate({"field": row["field"], "op": row["op"], "values": values})
            )
        except ValidationError as exc:
            rows.append({"field": where, "message": _message(exc.errors()[0])})
    masks: list[Mask] = []
    for item, choice in form.get("masks", {}).items():
        where = f"{prefix}masking.{item}"
        n = choice["n"]
        if n and not n.isdigit():
            rows.append({"field": where, "message": "保留位数 n 须为正整数"})
            continue
        try:
            masks.append(
                Mask.model_validate({"field": item, "rule": choice["rule"], "n": n or None})
            )
        except ValidationError as exc:
            rows.append({"field": where, "message": _message(exc.errors()[0])})
    _raise(rows)
    return conditions, masks


def _scope_in(form: dict[str, Any], prefix: str) -> ScopeIn:
    problems: list[dict[str, str]] = []
    conditions: list[Condition] = []
    masks: list[Mask] = []
    try:
        conditions, masks = parse_scope(form, prefix)
    except Invalid as exc:
        problems += exc.extra["errors"]  # type: ignore[operator]
    data: dict[str, Any] = {
        key: form[key]
        for key in ("purpose", "system_id", "conditions", "valid_from", "valid_until")
        if form.get(key)
    }
    data |= {"fields": form.get("fields", []), "row_filter": conditions, "masking": masks}
    try:
        scope = ScopeIn.model_validate(data)
    except ValidationError as exc:
        problems += _errors(exc, prefix, whole=f"{prefix}valid_until")
    _raise(problems)
    return scope


def _general(errors: dict[str, str], *fields: str) -> dict[str, str]:
    """Errors about no input of the form (the case's state, its resource) go on top."""
    out = dict(errors)
    stray = [k for k in errors if k != "_" and not k.startswith(fields)]
    if stray and "_" not in out:
        out["_"] = "；".join(errors[k] for k in stray)
    return out


# --- pages ---------------------------------------------------------------------------


@router.get("/sharing/cases", response_class=HTMLResponse)
def case_list(
    request: Request, db_session: DB, actor: PageActor, open_only: bool = False
) -> Response:
    rows = cases.list_cases(db_session, actor=actor, open_only=open_only)
    return render(
        request,
        "sharing/case_list.html",
        {
            "rows": rows,
            "open_only": open_only,
            "department": actor.organization_id,
            "can_open": actor.has(*APPLICANTS),
        },
    )


def _new_context(
    db_session: DB,
    actor: Actor,
    resource_id: int | None,
    application_id: int | None,
    **extra: Any,
) -> dict[str, Any]:
    resource = version = application = None
    refused: list[Application] = []
    if application_id is not None:
        application = applications.get_application(
            db_session, actor=actor, application_id=application_id
        )
        resource, version = application.resource, application.version
    elif resource_id is not None:
        resource = resources.get_resource(db_session, actor=actor, resource_id=resource_id)
        version = resource.current_version
    elif actor.has(*APPLICANTS):
        refused = [
            a
            for a in application_views.my_applications(db_session, actor=actor)
            if a.state is ApplicationState.REFUSED
        ]
    return {
        "resource": resource,
        "version": version,
        "application": application,
        "refused": refused,
        "not_shared": version is not None and version.share_type is ShareType.NOT_SHARED,
        "can_open": actor.has(*APPLICANTS),
        "restrictions": USE_RESTRICTIONS,
        "form": {},
        "errors": {},
        **extra,
    }


@router.get("/sharing/cases/new", response_class=HTMLResponse)
def case_new(
    request: Request,
    db_session: DB,
    actor: PageActor,
    resource: str | None = None,
    application: str | None = None,
) -> Response:
    context = _new_context(db_session, actor, optional_id(resource), optional_id(application))
    if context["version"] is not None:
        context["form"] = {"subject": context["version"].name}
    return render(request, "sharing/case_new.html", context)


@router.post("/sharing/cases/new", response_class=HTMLResponse)
def case_open(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    resource_id = optional_id(form.get("resource_id"))
    application_id = optional_id(form.get("application_id"))
    try:
        data = _validate(
            CaseIn,
            {
                "resource_id": resource_id,
                "application_id": application_id,
                "subject": form.get("subject", ""),
                "request": form.get("request", ""),
                "accept_restrictions": form.get("accept_restrictions") == "1",
            },
        )
        case = cases.open_case(db_session, actor=actor, data=data)
    except DomainError as exc:
        db_session.rollback()
        errors = _general(field_errors(exc), "subject", "request", "accept_restrictions")
        context = _new_context(
            db_session, actor, resource_id, application_id, form=form, errors=errors
        )
        return render(request, "sharing/case_new.html", context, exc.status)
    return redirect(
        f"/sharing/cases/{case.id}",
        f"已发起协调，编号 {case.number}。平台管理单位将组织双方协商",
    )


def _settle_defaults(db_session: DB, actor: Actor, case: Case) -> dict[str, Any]:
    """The settlement form's first proposal: a refused application's own request."""
    period = applications.period_default()
    form: dict[str, Any] = {
        "valid_from": period[0].isoformat(),
        "valid_until": period[1].isoformat(),
        "fields": [],
        "filters": [],
        "masks": {},
    }
    if case.application_id is not None:
        application = applications.get_application(
            db_session, actor=actor, application_id=case.application_id
        )
        form |= {
            "fields": list(application.fields),
            "filters": [
                {"field": c.field, "op": c.op.value, "values": ",".join(c.values)}
                for c in load_filter(application.row_filter)
            ],
            "purpose": application.purpose,
            "system_id": str(application.system_id),
            "valid_from": application.valid_from.isoformat(),
            "valid_until": application.valid_until.isoformat(),
        }
    return form


def _detail_context(
    db_session: DB, actor: Actor, case_id: int, failed: str = "", **extra: Any
) -> dict[str, Any]:
    case = cases.get_case(db_session, actor=actor, case_id=case_id)
    allowed = cases.permitted(actor, case)
    version = case.resource.current_version
    forms = {"message": {}, "escalate": {}, "settle": {}}
    errors: dict[str, dict[str, str]] = {"message": {}, "escalate": {}, "settle": {}}
    if allowed.settle and failed != "settle":
        forms["settle"] = _settle_defaults(db_session, actor, case)
    top_error = ""
    if failed:
        forms[failed] = extra.pop("form", {})
        errors[failed] = extra.pop("errors", {})
        shown = {"message": allowed.message, "escalate": allowed.escalate, "settle": allowed.settle}
        if not shown[failed]:  # the case moved on meanwhile: its form is gone
            top_error = errors[failed].get("_") or next(iter(errors[failed].values()), "")
    return {
        "case": case,
        "allowed": allowed,
        "version": version,
        "items": version.items if version else [],
        "choices": CHOICES,
        "forms": forms,
        "errors": errors,
        "systems": systems_service.choices(
            db_session, actor=actor, organization_id=case.consumer_id
        )
        if allowed.settle
        else [],
        "escalated": case.escalated_at is not None,
        "final": case.state in (CaseState.AGREED, CaseState.CLOSED),
        "top_error": top_error,
        **extra,
    }


@router.get("/sharing/cases/{case_id}", response_class=HTMLResponse)
def case_detail(request: Request, db_session: DB, actor: PageActor, case_id: Id) -> Response:
    return render(request, "sharing/case_detail.html", _detail_context(db_session, actor, case_id))


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    case_id: int,
    which: str,
    exc: DomainError,
    form: dict[str, Any],
    *fields: str,
) -> Response:
    db_session.rollback()
    errors = _general(field_errors(exc), *fields)
    context = _detail_context(db_session, actor, case_id, which, form=form, errors=errors)
    return render(request, "sharing/case_detail.html", context, exc.status)


@router.post("/sharing/cases/{case_id}/messages", response_class=HTMLResponse)
def case_message(
    request: Request, db_session: DB, actor: PageActor, case_id: Id, form: PostedForm
) -> Response:
    try:
        data = _validate(MessageIn, {"body": form.get("body", "")})
        cases.post_message(db_session, actor=actor, case_id=case_id, data=data)
    except DomainError as exc:
        return _failed(request, db_session, actor, case_id, "message", exc, form, "body")
    return redirect(f"/sharing/cases/{case_id}#thread", "意见已发表，其他各方会收到通知")


@router.post("/sharing/cases/{case_id}/escalate", response_class=HTMLResponse)
def case_escalate(
    request: Request, db_session: DB, actor: PageActor, case_id: Id, form: PostedForm
) -> Response:
    try:
        cases.escalate_case(db_session, actor=actor, case_id=case_id, reason=form.get("reason", ""))
    except DomainError as exc:
        return _failed(request, db_session, actor, case_id, "escalate", exc, form, "reason")
    return redirect(f"/sharing/cases/{case_id}", "已提请主管部门协调，主管部门和双方会收到通知")


@router.post("/sharing/cases/{case_id}/settle", response_class=HTMLResponse)
async def case_settle(request: Request, db_session: DB, actor: PageActor, case_id: Id) -> Response:
    form = await read_scope_form(request)
    try:
        agreed = form.get("agreed", "")
        if agreed not in ("yes", "no"):
            raise Invalid("请选择双方是否达成一致", field="agreed")
        problems: list[dict[str, str]] = []
        scope = None
        if agreed == "yes":
            try:
                scope = _scope_in(form, "scope.")
            except Invalid as exc:
                problems += exc.extra["errors"]  # type: ignore[operator]
        try:
            data = SettlementIn.model_validate(
                {
                    "agreed": agreed == "yes" and scope is not None,
                    "outcome": form.get("outcome", ""),
                    "scope": scope,
                }
            )
        except ValidationError as exc:
            problems += _errors(exc)
        _raise(problems)
        case = cases.settle_case(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            case_id=case_id,
            data=data,
        )
    except DomainError as exc:
        return _failed(
            request, db_session, actor, case_id, "settle", exc, form, "agreed", "outcome", "scope"
        )
    if case.state is CaseState.AGREED:
        return redirect(
            f"/sharing/cases/{case_id}",
            f"已达成一致并备案（备案号 {case.filing_number}），已生成授权",
        )
    return redirect(f"/sharing/cases/{case_id}", "已结案：未达成一致")
