"""Exchange pages: pushes to the consumer's front-end database (前置库推送), over the same
services as the JSON routes in `exchange.api.pushes`.

A department's data officer chooses one of its usable grants on table data, one of its own
front-end connections and a new table name; the platform creates the table there and keeps
it in sync. A push's runs are sync runs: their page (with its htmx progress) is the one the
bindings use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.exchange.api.connections import queue_of
from govshare.exchange.models import ConnectionRole, Push, PushState, RunKind, SyncRun
from govshare.exchange.pages.connections import placed
from govshare.exchange.schemas import PushIn
from govshare.exchange.service import connections, pushes, run_views, runs
from govshare.sharing.service import grants as sharing_grants
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, filled
from govshare.web.templating import redirect, render

router = APIRouter()

PUSH_FIELDS = ("grant_id", "connection_id", "target_table")
# A required choice left empty: what to do, in the clerk's words, instead of "必填".
EMPTY = {
    "grant_id": "请选择要推送的授权",
    "connection_id": "请选择本单位的前置交换库连接",
    "target_table": "请填写前置库中的表名",
}
RUN_KINDS = {  # the buttons of 立即推送 and what each does
    "": "立即推送",
    RunKind.FULL.value: "全量重推",
    RunKind.COMPARE.value: "主键比对（处理删除）",
}


def _is_manager(actor: Actor) -> bool:
    return actor.has(*pushes.MANAGERS) and actor.organization_id is not None


def _own_manager(actor: Actor, push: Push) -> bool:
    """Whether the actor is the data officer of the department that receives the push."""
    return _is_manager(actor) and push.grant.consumer_id == actor.organization_id


def _last_runs(db_session: Session, actor: Actor, found: list[Push]) -> dict[int, SyncRun | None]:
    out: dict[int, SyncRun | None] = {}
    for push in found:
        latest = run_views.list_runs(db_session, actor=actor, push_id=push.id, limit=1)
        out[push.id] = latest[0] if latest else None
    return out


# --- list -----------------------------------------------------------------------------------


@router.get("/exchange/pushes", response_class=HTMLResponse)
def push_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    found = pushes.list_pushes(db_session, actor=actor)
    return render(
        request,
        "exchange/push_list.html",
        {
            "rows": found,
            "last": _last_runs(db_session, actor, found),
            "can_create": _is_manager(actor),
            "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        },
    )


# --- new push -------------------------------------------------------------------------------


def _form_context(
    db_session: Session, actor: Actor, form: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    frontends = connections.list_connections(db_session, actor=actor, role=ConnectionRole.FRONTEND)
    return {
        "options": pushes.push_options(db_session, actor=actor),
        "connections": [c for c in frontends if c.organization_id == actor.organization_id],
        "form": form,
        "errors": errors,
    }


@router.get("/exchange/pushes/new", response_class=HTMLResponse)
def push_new(request: Request, db_session: DB, actor: PageActor, grant_id: str = "") -> Response:
    """The new-push form, the grant chosen when the link names one."""
    form = {"grant_id": grant_id, "connection_id": "", "target_table": ""}
    context = _form_context(db_session, actor, form, {})
    if not form["connection_id"] and len(context["connections"]) == 1:
        form["connection_id"] = str(context["connections"][0].id)
    return render(request, "exchange/push_form.html", context)


def _errors(exc: ValidationError | DomainError, form: dict[str, Any]) -> dict[str, str]:
    errors = placed(field_errors(exc), PUSH_FIELDS)
    for name, message in EMPTY.items():
        if not form.get(name):
            errors[name] = message
    return errors


@router.post("/exchange/pushes", response_class=HTMLResponse)
def push_create(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    """Creates the push after checking the grant, the connection and the table name; the
    front-end database is asked whether the table exists already."""
    typed = {k: form.get(k, "") for k in PUSH_FIELDS}
    try:
        push = pushes.create_push(
            db_session,
            actor=actor,
            data=PushIn.model_validate(filled(typed)),
            settings=runtime_of(request).settings,
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        status = exc.status if isinstance(exc, DomainError) else 422
        context = _form_context(db_session, actor, typed, _errors(exc, typed))
        return render(request, "exchange/push_form.html", context, status)
    return redirect(
        f"/exchange/pushes/{push.id}",
        f"推送已创建。首次全量推送已安排，稍后平台会在前置库中建表 {push.target_table} 并写入数据",
    )


# --- one push -------------------------------------------------------------------------------


@router.get("/exchange/pushes/{push_id}", response_class=HTMLResponse)
def push_detail(request: Request, db_session: DB, actor: PageActor, push_id: Id) -> Response:
    push = pushes.get_push(db_session, actor=actor, push_id=push_id)
    history = run_views.list_runs(db_session, actor=actor, push_id=push_id)
    grant = push.grant
    return render(
        request,
        "exchange/push_detail.html",
        {
            "push": push,
            "grant": grant,
            "grant_link": sharing_grants.link(grant),
            "version": grant.resource.current_version,
            "scope": pushes.push_scope(db_session, actor=actor, push_id=push_id),
            "history": history,
            "busy": next((r for r in history if not r.finished), None),
            "can_run": _own_manager(actor, push) or actor.has(Role.PLATFORM_OPERATOR),
            "can_manage": _own_manager(actor, push),
            "run_kinds": RUN_KINDS,
        },
    )


@router.post("/exchange/pushes/{push_id}/runs", response_class=HTMLResponse)
def push_run(
    request: Request, db_session: DB, actor: PageActor, push_id: Id, form: PostedForm
) -> Response:
    """立即推送: queues a run and hands it to the job queue once the request has committed."""
    chosen = form.get("kind", "")
    if chosen not in RUN_KINDS:
        raise Invalid("请选择推送方式：立即推送、全量重推或主键比对", field="kind")
    try:
        run = runs.request_push_run(
            db_session,
            actor=actor,
            push_id=push_id,
            kind=RunKind(chosen) if chosen else None,
            enqueue=queue_of(request).enqueue,
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(f"/exchange/pushes/{push_id}", f"未能发起推送：{exc.message}")
    return redirect(f"/exchange/runs/{run.id}", f"已发起推送（{run.kind.label}），正在排队等待执行")


@router.post("/exchange/pushes/{push_id}/{action}", response_class=HTMLResponse)
def push_state(
    db_session: DB, actor: PageActor, push_id: Id, action: str, form: PostedForm
) -> Response:
    """暂停 or 恢复 the push."""
    states = {"pause": PushState.PAUSED, "resume": PushState.ACTIVE}
    if action not in states:
        raise Invalid("只能暂停或恢复推送", field="action")
    target = f"/exchange/pushes/{push_id}"
    try:
        pushes.set_push_state(
            db_session,
            actor=actor,
            push_id=push_id,
            state=states[action],
            reason=form.get("reason", "")[:500],
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(target, f"未能办理：{exc.message}")
    done = (
        "已暂停推送，前置库中的表保留现有数据"
        if action == "pause"
        else "已恢复推送，稍后将推送一次"
    )
    return redirect(target, done)
