"""Exchange pages: database connections (数据库连接), table bindings (库表同步) and their sync
runs (同步任务), over the same services as the JSON routes in `exchange.api.connections`.

A connection's password is write-only: no page shows it or puts it back into a form, not
even a form shown again with its errors. A run's page polls a small fragment with htmx
while the run goes, so a clerk watches the counters move without reloading."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus
from govshare.catalog.service import overview as catalog_overview
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange.api.connections import queue_of
from govshare.exchange.models import (
    BindingState,
    ChangeKind,
    Cipher,
    Connection,
    ConnectionRole,
    DatabaseKind,
    RunKind,
    RunState,
    SyncRun,
    TableBinding,
)
from govshare.exchange.schemas import BindingIn, ConnectionIn
from govshare.exchange.service import (
    bindings,
    connections,
    pushes,
    run_views,
    runs,
    source_directories,
)
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, filled, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()

CONNECTION_FIELDS = (
    "name",
    "role",
    "kind",
    "host",
    "port",
    "database",
    "db_schema",
    "username",
    "password",
    "cipher",
)
BINDING_FIELDS = (
    "resource_id",
    "connection_id",
    "source_table",
    "columns",
    "key_columns",
    "change_column",
    "change_kind",
)
# A model-wide rule names its field at the start of its message ("host: …").
NAMED_FIELD = re.compile(r"^([a-z_]+): (.+)$", re.S)
KEY_SEPARATORS = re.compile(r"[,，、;；\s]+")
COLUMN_ROW = re.compile(r"^columns\.(\d+)\.column$")
ZERO_FRACTION = re.compile(r"(?<=:\d\d)\.0+(?=$|[+-]\d\d:?\d\d$)")


# --- shared ---------------------------------------------------------------------------------

# A database column type in words, by the start of its name (the longest prefix first).
TYPE_WORDS = (
    ("timestamp", "日期时间"),
    ("datetime", "日期时间"),
    ("date", "日期"),
    ("time", "时间"),
    ("interval", "时间间隔"),
    ("bigint", "整数"),
    ("smallint", "整数"),
    ("tinyint", "整数"),
    ("integer", "整数"),
    ("int", "整数"),
    ("serial", "整数"),
    ("numeric", "数值"),
    ("decimal", "数值"),
    ("double", "数值"),
    ("float", "数值"),
    ("real", "数值"),
    ("bool", "是/否"),
    ("character", "文本"),
    ("varchar", "文本"),
    ("char", "文本"),
    ("text", "文本"),
    ("clob", "文本"),
    ("json", "JSON 文本"),
    ("bytea", "二进制"),
    ("blob", "二进制"),
)


def type_label(column_type: str | None) -> str:
    """A column type as a clerk reads it: 整数 for bigint, 日期时间 for timestamp…"""
    name = (column_type or "").strip().lower()
    return next((words for prefix, words in TYPE_WORDS if name.startswith(prefix)), "")


def placed(errors: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The errors beside their fields: a model rule's message is moved to the field it names;
    an error the form has no place for goes to the form's top ("_")."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        if key == "_" and (named := NAMED_FIELD.match(message)):
            key, message = named.groups()
        if key != "_" and key.split(".")[0] not in known:
            key = "_"
        if key == "_" and "_" in out:
            out["_"] = f"{out['_']}；{message}"
        else:
            out.setdefault(key, message)
    return out


def _status(exc: ValidationError | DomainError) -> int:
    return exc.status if isinstance(exc, DomainError) else 422


def _settings(request: Request) -> Settings:
    return runtime_of(request).settings


def _own_manager(actor: Actor, organization_id: int) -> bool:
    """Whether the actor is the data officer of the department that owns the thing."""
    return actor.has(*bindings.MANAGERS) and actor.organization_id == organization_id


# --- connections ----------------------------------------------------------------------------


def _connection_choices(
    db_session: Session, actor: Actor, settings: Settings, organization_id: int | None
) -> dict[str, Any]:
    own = [
        d
        for d in source_directories.list_source_directories(db_session, actor=actor)
        if d.organization_id == organization_id
    ]
    return {
        "roles": ConnectionRole.choices(),
        "kinds": DatabaseKind.choices(),
        "ciphers": Cipher.choices(),
        "default_cipher": Cipher(settings.credential_cipher).label,
        # where the department's SQLite files may live (empty: none assigned yet)
        "data_dir": str(settings.data_dir / own[0].path) if own else "",
    }


def _connection_in(form: dict[str, Any]) -> ConnectionIn:
    return ConnectionIn.model_validate(filled({k: form.get(k, "") for k in CONNECTION_FIELDS}))


def _typed(form: dict[str, Any]) -> dict[str, Any]:
    """The form as typed, for showing it again: never with the password."""
    return {k: v for k, v in form.items() if k != "password"}


def _form_of(conn: Connection) -> dict[str, Any]:
    return {
        "name": conn.name,
        "role": conn.role.value,
        "kind": conn.kind.value,
        "host": conn.host,
        "port": conn.port or "",
        "database": conn.database,
        "db_schema": conn.schema,
        "username": conn.username,
        "cipher": conn.cipher.value,
    }


def _list_context(
    request: Request, db_session: Session, actor: Actor, **extra: Any
) -> dict[str, Any]:
    return {
        "rows": connections.list_connections(db_session, actor=actor),
        "can_register": actor.has(*connections.MANAGERS) and actor.organization_id is not None,
        "own_org": actor.organization_id,
        "is_manager": actor.has(*connections.MANAGERS),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "form": extra.pop("form", {"role": "source", "kind": "postgresql"}),
        "errors": extra.pop("errors", {}),
        **_connection_choices(db_session, actor, _settings(request), actor.organization_id),
        **extra,
    }


def _detail_context(
    request: Request, db_session: Session, actor: Actor, connection_id: int, **extra: Any
) -> dict[str, Any]:
    conn = connections.get_connection(db_session, actor=actor, connection_id=connection_id)
    used_by = [
        b for b in bindings.list_bindings(db_session, actor=actor) if b.connection_id == conn.id
    ]
    pushed_by = (
        [p for p in pushes.list_pushes(db_session, actor=actor) if p.connection_id == conn.id]
        if conn.role is ConnectionRole.FRONTEND and actor.has(*pushes.VIEWERS)
        else []
    )
    return {
        "conn": conn,
        "used_by": used_by,
        "pushed_by": pushed_by,
        "can_edit": _own_manager(actor, conn.organization_id),
        "can_test": _own_manager(actor, conn.organization_id) or actor.has(Role.PLATFORM_OPERATOR),
        "form": extra.pop("form", None) or _form_of(conn),
        "errors": extra.pop("errors", {}),
        **_connection_choices(db_session, actor, _settings(request), conn.organization_id),
        **extra,
    }


@router.get("/exchange/connections", response_class=HTMLResponse)
def connection_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(
        request, "exchange/connection_list.html", _list_context(request, db_session, actor)
    )


@router.post("/exchange/connections", response_class=HTMLResponse)
def connection_register(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    """Registers a connection; the service tests the database first and says why it failed."""
    try:
        conn = connections.register_connection(
            db_session, actor=actor, settings=_settings(request), data=_connection_in(form)
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        errors = placed(field_errors(exc), CONNECTION_FIELDS)
        context = _list_context(request, db_session, actor, form=_typed(form), errors=errors)
        return render(request, "exchange/connection_list.html", context, _status(exc))
    return redirect(
        f"/exchange/connections/{conn.id}", f"连接“{conn.name}”已登记。{conn.last_test_message}"
    )


@router.get("/exchange/connections/{connection_id}", response_class=HTMLResponse)
def connection_detail(
    request: Request, db_session: DB, actor: PageActor, connection_id: Id
) -> Response:
    context = _detail_context(request, db_session, actor, connection_id)
    return render(request, "exchange/connection_detail.html", context)


@router.post("/exchange/connections/{connection_id}", response_class=HTMLResponse)
def connection_update(
    request: Request, db_session: DB, actor: PageActor, connection_id: Id, form: PostedForm
) -> Response:
    """Changes a connection; an empty password keeps the stored one."""
    try:
        conn = connections.update_connection(
            db_session,
            actor=actor,
            settings=_settings(request),
            connection_id=connection_id,
            data=_connection_in(form),
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        errors = placed(field_errors(exc), CONNECTION_FIELDS)
        context = _detail_context(
            request, db_session, actor, connection_id, form=_typed(form), errors=errors
        )
        return render(request, "exchange/connection_detail.html", context, _status(exc))
    return redirect(f"/exchange/connections/{conn.id}", f"连接已修改。{conn.last_test_message}")


@router.post("/exchange/connections/{connection_id}/test", response_class=HTMLResponse)
def connection_test(
    request: Request, db_session: DB, actor: PageActor, connection_id: Id
) -> Response:
    target = f"/exchange/connections/{connection_id}"
    try:
        conn = connections.test_connection(
            db_session, actor=actor, settings=_settings(request), connection_id=connection_id
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(target, f"未能测试：{exc.message}")
    if conn.last_test_ok:
        return redirect(target, f"测试通过。{conn.last_test_message}")
    return redirect(target, f"测试未通过：{conn.last_test_message}")


# --- bindings -------------------------------------------------------------------------------


def bindable_resources(db_session: Session, actor: Actor) -> list[Resource]:
    """The department's published table resources, which its data officer may bind."""
    if not actor.has(*bindings.MANAGERS) or actor.organization_id is None:
        return []
    rows = catalog_overview.department_resources(db_session, actor=actor)
    return [
        r.resource
        for r in rows
        if r.resource.status is ResourceStatus.PUBLISHED
        and r.resource.current_version is not None
        and bindings.is_table_version(r.resource.current_version)
    ]


def _last_runs(
    db_session: Session, actor: Actor, found: list[TableBinding]
) -> dict[int, SyncRun | None]:
    out: dict[int, SyncRun | None] = {}
    for binding in found:
        latest = run_views.list_runs(db_session, actor=actor, binding_id=binding.id, limit=1)
        out[binding.id] = latest[0] if latest else None
    return out


@router.get("/exchange/bindings", response_class=HTMLResponse)
def binding_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    found = bindings.list_bindings(db_session, actor=actor)
    bound = {b.resource_id for b in found}
    unbound = [r for r in bindable_resources(db_session, actor) if r.id not in bound]
    return render(
        request,
        "exchange/binding_list.html",
        {
            "rows": found,
            "last": _last_runs(db_session, actor, found),
            "unbound": unbound,
            "can_bind": actor.has(*bindings.MANAGERS) and actor.organization_id is not None,
        },
    )


def _blank_binding(resource: Resource | None) -> dict[str, Any]:
    return {
        "resource_id": str(resource.id) if resource else "",
        "connection_id": "",
        "source_table": "",
        "columns": {},
        "key_columns": "",
        "change_column": "",
        "change_kind": ChangeKind.TIMESTAMP.value,
    }


def _binding_form_of(binding: TableBinding) -> dict[str, Any]:
    return {
        "resource_id": str(binding.resource_id),
        "connection_id": str(binding.connection_id),
        "source_table": binding.source_table,
        "columns": {c["item"]: c["column"] for c in binding.columns},
        "key_columns": ", ".join(binding.key_columns),
        "change_column": binding.change_column or "",
        "change_kind": (binding.change_kind or ChangeKind.TIMESTAMP).value,
    }


def _binding_context(
    db_session: Session, actor: Actor, form: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    choices = bindable_resources(db_session, actor)
    wanted = optional_id(form.get("resource_id"))
    chosen = next((r for r in choices if r.id == wanted), None)
    if wanted is not None and chosen is None:
        errors = {"resource_id": "请选择本单位已发布的库表类资源", **errors}
    existing = bindings.binding_of_resource(db_session, chosen.id) if chosen else None
    return {
        "resources": choices,
        "chosen": chosen,
        "items": list(chosen.current_version.items) if chosen and chosen.current_version else [],
        "existing": existing,
        "connections": connections.list_connections(db_session, actor=actor),
        "change_kinds": ChangeKind.choices(),
        "form": form,
        "errors": errors,
    }


@router.get("/exchange/bindings/new", response_class=HTMLResponse)
def binding_new(
    request: Request, db_session: DB, actor: PageActor, resource_id: str = ""
) -> Response:
    """The binding form for a resource (its binding's values when it has one already)."""
    require(actor, *bindings.MANAGERS, action="绑定库表资源")
    wanted = optional_id(resource_id)
    existing = bindings.binding_of_resource(db_session, wanted) if wanted else None
    if existing is not None and existing.resource.provider_id == actor.organization_id:
        form = _binding_form_of(existing)
    else:
        form = _blank_binding(None) | {"resource_id": str(wanted or "")}
    context = _binding_context(db_session, actor, form, {})
    sources = [c for c in context["connections"] if c.role is ConnectionRole.SOURCE]
    if not form["connection_id"] and len(sources) == 1:  # the usual case: one business database
        form["connection_id"] = str(sources[0].id)
    return render(request, "exchange/binding_form.html", context)


async def _binding_posted(request: Request) -> dict[str, Any]:
    """The posted binding form: one source column per data item, in the items' order."""
    posted = await request.form()

    def one(key: str) -> str:
        value = posted.get(key)
        return value.strip() if isinstance(value, str) else ""

    items = [v for v in posted.getlist("item") if isinstance(v, str)]
    typed = [v.strip() for v in posted.getlist("column") if isinstance(v, str)]
    return {
        "resource_id": one("resource_id"),
        "connection_id": one("connection_id"),
        "source_table": one("source_table"),
        "columns": dict(zip(items, typed, strict=False)),
        "key_columns": one("key_columns"),
        "change_column": one("change_column"),
        "change_kind": one("change_kind"),
    }


def _binding_in(form: dict[str, Any]) -> BindingIn:
    change = form["change_column"]
    payload: dict[str, Any] = {
        "source_table": form["source_table"],
        "columns": [{"item": i, "column": c} for i, c in form["columns"].items()],
        "key_columns": [k for k in KEY_SEPARATORS.split(form["key_columns"]) if k],
        "change_column": change or None,
        "change_kind": (form["change_kind"] or None) if change else None,
    }
    for key in ("resource_id", "connection_id"):
        if form[key]:
            payload[key] = form[key]
    return BindingIn.model_validate(payload)


def _binding_errors(exc: ValidationError | DomainError, form: dict[str, Any]) -> dict[str, str]:
    errors = placed(field_errors(exc), BINDING_FIELDS)
    if not KEY_SEPARATORS.sub("", form["key_columns"]):
        errors["key_columns"] = "请填写主键字段：能唯一确定一行数据的源字段，如 id"
    if "columns" in errors and any(k.startswith("columns.") for k in errors):
        del errors["columns"]  # each row's own message stands beside it
    items = list(form["columns"])
    for key, message in errors.items():
        row = COLUMN_ROW.match(key)
        if row and message == "必填" and 0 < int(row.group(1)) <= len(items):
            item = items[int(row.group(1)) - 1]
            errors[key] = f"必填：请填写“{item}”在源表中的字段名"
    return errors


@router.post("/exchange/bindings", response_class=HTMLResponse)
async def binding_save(request: Request, db_session: DB, actor: PageActor) -> Response:
    """Binds the resource (or changes its binding) after the service checked the source."""
    form = await _binding_posted(request)
    try:
        binding = bindings.save_binding(
            db_session, actor=actor, settings=_settings(request), data=_binding_in(form)
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _binding_context(db_session, actor, form, _binding_errors(exc, form))
        return render(request, "exchange/binding_form.html", context, _status(exc))
    frequency = binding.resource.current_version.update_frequency.label  # type: ignore[union-attr]
    return redirect(
        f"/exchange/bindings/{binding.id}",
        f"库表绑定已保存，将按资源的更新周期（{frequency}）自动同步",
    )


@router.get("/exchange/bindings/{binding_id}", response_class=HTMLResponse)
def binding_detail(request: Request, db_session: DB, actor: PageActor, binding_id: Id) -> Response:
    binding = bindings.get_binding(db_session, actor=actor, binding_id=binding_id)
    history = run_views.list_runs(db_session, actor=actor, binding_id=binding_id)
    provider = binding.resource.provider_id
    return render(
        request,
        "exchange/binding_detail.html",
        {
            "binding": binding,
            "version": binding.resource.current_version,
            "history": history,
            "busy": next((r for r in history if not r.finished), None),
            "can_run": _own_manager(actor, provider) or actor.has(Role.PLATFORM_OPERATOR),
            "can_manage": _own_manager(actor, provider),
            "run_kinds": [RunKind.INCREMENTAL, RunKind.FULL, RunKind.COMPARE],
            "type_label": type_label,
        },
    )


@router.post("/exchange/bindings/{binding_id}/runs", response_class=HTMLResponse)
def binding_run(
    request: Request, db_session: DB, actor: PageActor, binding_id: Id, form: PostedForm
) -> Response:
    """立即同步: queues a run and hands it to the job queue once the request has committed."""
    try:
        kind = RunKind(form.get("kind", ""))
    except ValueError:
        raise Invalid("请选择同步方式：增量、全量或主键比对", field="kind") from None
    try:
        run = runs.request_run(
            db_session,
            actor=actor,
            binding_id=binding_id,
            kind=kind,
            enqueue=queue_of(request).enqueue,
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(f"/exchange/bindings/{binding_id}", f"未能发起同步：{exc.message}")
    return redirect(f"/exchange/runs/{run.id}", f"已发起{kind.label}，正在排队等待执行")


@router.post("/exchange/bindings/{binding_id}/{action}", response_class=HTMLResponse)
def binding_state(db_session: DB, actor: PageActor, binding_id: Id, action: str) -> Response:
    """暂停 or 恢复 the binding's runs by its update frequency."""
    states = {"pause": BindingState.PAUSED, "resume": BindingState.ACTIVE}
    if action not in states:
        raise Invalid("只能暂停或恢复自动同步", field="action")
    target = f"/exchange/bindings/{binding_id}"
    try:
        bindings.set_binding_state(
            db_session, actor=actor, binding_id=binding_id, state=states[action]
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(target, f"未能办理：{exc.message}")
    done = "已暂停自动同步" if action == "pause" else "已恢复自动同步，稍后将运行一次"
    return redirect(target, done)


# --- runs ---------------------------------------------------------------------------------


def watermark(value: str | None) -> str:
    """A change column's value as people read it: a timestamp without its zero fraction."""
    if not value:
        return ""
    return ZERO_FRACTION.sub("", value)


def progress_context(run: SyncRun) -> dict[str, Any]:
    """What the run's progress block shows: the share done when the rows to read are known,
    the time taken so far, and where an incremental run started and ended."""
    percent = None
    if run.expected_rows:
        percent = min(100, run.rows_read * 100 // run.expected_rows)
    elapsed = run.seconds
    if elapsed is None and run.started_at is not None:
        end = run.finished_at or clock.now()
        elapsed = (clock.as_utc(end) - clock.as_utc(run.started_at)).total_seconds()
    if run.binding is not None:
        change_column = run.binding.change_column
    else:  # a push follows the center's change column, whatever the grant shows of it
        change_column = "更新时间" if run.watermark_before or run.watermark_after else None
    return {
        "run": run,
        "percent": percent,
        "elapsed": elapsed,
        "running": run.state is RunState.RUNNING,
        "change_column": change_column,
        "watermark": watermark,
    }


@router.get("/exchange/runs/{run_id}", response_class=HTMLResponse)
def run_detail(request: Request, db_session: DB, actor: PageActor, run_id: Id) -> Response:
    run = run_views.get_run(db_session, actor=actor, run_id=run_id)
    rejected = run_views.rejected_rows(db_session, actor=actor, run_id=run_id)
    # The run belongs to the bindings' or the pushes' tab, not to the overview's.
    tab = "/exchange/pushes" if run.push_id is not None else "/exchange/bindings"
    return render(
        request,
        "exchange/run_detail.html",
        {**progress_context(run), "rejected": rejected, "tab_active": tab},
    )


@router.get("/exchange/runs/{run_id}/progress", response_class=HTMLResponse)
def run_progress(request: Request, db_session: DB, actor: PageActor, run_id: Id) -> Response:
    """The progress block alone, polled every 2 s while the run goes. When the run has just
    finished, htmx reloads the whole page to show the rows it did not write."""
    run = run_views.get_run(db_session, actor=actor, run_id=run_id)
    response = render(request, "exchange/run_progress.html", progress_context(run))
    if run.finished and request.headers.get("HX-Request") == "true":
        response.headers["HX-Refresh"] = "true"
    return response
