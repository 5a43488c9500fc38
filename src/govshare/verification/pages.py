"""Pages of objections (疑义, VER-1, VER-2, VER-4): the list, with the provider's queue and its
deadline colours; raising an objection on a grant's records; an objection's page with the
forms its reader may use (answer, extension and the head's approval, citizens served)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from govshare.core import calendar as working_days
from govshare.core import clock, documents
from govshare.core.errors import DomainError, Invalid, NotFound
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.opendata.pages.common import due
from govshare.sharing.models import Grant
from govshare.sharing.service.common import ANSWERERS, APPLICANTS
from govshare.verification.models import ExtensionState, Objection, ObjectionState
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import evidence, objections
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.documents import document_response
from govshare.web.forms import (
    PostedDocuments,
    PostedForm,
    attempt,
    field_errors,
    form_states,
    validated,
)
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

SHOWS = {
    "all": "全部",
    "to_verify": "待我核实",
    "raised": "我提出的",
    "overdue": "已超期",
    "closed": "已办结",
}
STATE_COLOURS = {"open": "amber", "confirmed": "amber", "corrected": "green", "rejected": "grey"}


def _show(value: str) -> str:
    if value not in ("", *SHOWS):
        raise Invalid("请从筛选项中选择", field="show")
    return value or "all"


def open_due(db_session: DB, record: Any, is_open: bool, overdue: Any) -> Any:
    """The deadline of an objection or a mismatch case as the pages show it (its date and the
    working days left), while it is open; `overdue(record, today)` as the service decides."""
    if not is_open:
        return None
    today = clock.today()
    calendar = working_days.load(db_session)
    return due(calendar, today, record.due_on, record.due_provisional, overdue(record, today))


def _due(db_session: DB, objection: Objection) -> Any:
    return open_due(
        db_session, objection, objection.state == ObjectionState.OPEN, objections.is_overdue
    )


@router.get("/verification/objections", response_class=HTMLResponse)
def objection_list(request: Request, db_session: DB, actor: PageActor, show: str = "") -> Response:
    chosen = _show(show)
    every = objections.list_objections(db_session, actor=actor)
    today = clock.today()
    org = actor.organization_id
    shown: dict[str, list[Objection]] = {
        "all": every,
        "to_verify": [o for o in every if o.provider_id == org and o.state == ObjectionState.OPEN],
        "raised": [o for o in every if o.consumer_id == org],
        "overdue": [o for o in every if objections.is_overdue(o, today)],
        "closed": [o for o in every if o.state.closed],
    }
    return render(
        request,
        "verification/objections.html",
        {
            "rows": [{"o": o, "due": _due(db_session, o)} for o in shown[chosen]],
            "show": chosen,
            "shows": [(key, label, len(shown[key])) for key, label in SHOWS.items()],
            "colours": STATE_COLOURS,
        },
    )


# --- raising on a grant's records -----------------------------------------------------------


def _grant_of(db_session: DB, actor: Actor, grant_id: int) -> Grant:
    grant = db_session.get(Grant, grant_id)
    if grant is None or grant.consumer_id != actor.organization_id:
        raise NotFound(f"没有编号为 {grant_id} 的本部门授权")
    return grant


def _new_context(
    db_session: DB,
    actor: Actor,
    grant_id: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    grant = _grant_of(db_session, actor, grant_id)
    readable = [i.name for i in grant.version.items] if grant.whole_resource else grant.fields
    key_items = objections.key_items(db_session, grant.resource_id)
    return {
        "grant": grant,
        "readable": readable,
        "key_items": key_items,
        "form": form or {"keys": "", "items": [], "claimed": {}, "description": "", "evidence": ""},
        "errors": errors or {},
        "accept": documents.ACCEPT,
    }


@router.get("/verification/grants/{grant_id}/objections/new", response_class=HTMLResponse)
def new_objection(
    request: Request, db_session: DB, actor: PageActor, grant_id: Id, keys: str = ""
) -> Response:
    """The form; `keys` (from a record's row on the query page) fills in the records."""
    form = {"keys": keys, "items": [], "claimed": {}, "description": "", "evidence": ""}
    context = _new_context(db_session, actor, grant_id, form)
    context["rules"] = runtime_of(request).profile.rules
    return render(request, "verification/new.html", context)


def _keys(text: str, key_items: list[str], field: str = "keys") -> list[dict[str, str]]:
    """One record per line; a key of several items separated by commas, in their order. A
    first line naming the key items (a file's header) is skipped."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        values = [v.strip().strip('"') for v in line.replace("，", ",").split(",")]
        if not any(values) or (number == 1 and values == key_items):
            continue
        if len(values) != len(key_items):
            raise Invalid(
                f"第 {number} 行须有 {len(key_items)} 个值：{'、'.join(key_items)}", field=field
            )
        keys.append(dict(zip(key_items, values, strict=True)))
    return keys


KEYS_FILE_BYTES = 1024 * 1024


async def _keys_file(request: Request) -> bytes:
    """The bytes of an uploaded file of keys (`keys_file`); empty when none was chosen."""
    upload = (await request.form()).get("keys_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return b""
    return await upload.read(KEYS_FILE_BYTES + 1)


def _keys_text(content: bytes) -> str:
    """A file of keys as text: UTF-8, with or without a BOM, or GB18030 as Excel writes CSV
    on Chinese Windows."""
    if len(content) > KEYS_FILE_BYTES:
        raise Invalid("主键文件不能超过 1 MB", field="keys_file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("主键文件须为 UTF-8 或 GBK 编码的文本或 CSV 文件", field="keys_file")


KeysFile = Annotated[bytes, Depends(_keys_file)]


@router.post("/verification/grants/{grant_id}/objections", response_class=HTMLResponse)
def raise_objection(
    request: Request,
    db_session: DB,
    actor: PageActor,
    grant_id: Id,
    form: PostedForm,
    attached: PostedDocuments,
    keys_file: KeysFile,
) -> Response:
    items = [i for i in form.get("items", []) if i]
    claimed = {i: form.get(f"claimed_{i}", "").strip() for i in items}
    shown = {
        "keys": form.get("keys", ""),
        "items": items,
        "claimed": claimed,
        "description": form.get("description", ""),
        "evidence": form.get("evidence", ""),
    }
    try:
        key_items = objections.key_items(
            db_session, _grant_of(db_session, actor, grant_id).resource_id
        )
        data = validated(
            RecordObjectionIn,
            {
                "keys": _keys(shown["keys"], key_items)
                + _keys(_keys_text(keys_file), key_items, field="keys_file"),
                "items": items,
                "claimed": {i: v for i, v in claimed.items() if v},
                "description": shown["description"],
                "evidence": shown["evidence"],
            },
        )
        objection = objections.raise_on_records(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            grant_id=grant_id,
            data=data,
            documents=attached,
        )
    except DomainError as exc:
        db_session.rollback()
        context = _new_context(db_session, actor, grant_id, shown, field_errors(exc))
        context["rules"] = runtime_of(request).profile.rules
        return render(request, "verification/new.html", context, exc.status)
    return redirect(
        objections.LINK.format(id=objection.id),
        f"已提出疑义 {objection.number}，提供部门须于 {objection.due_on} 前核实答复。",
    )


# --- an objection's page ---------------------------------------------------------------------


FORMS = ("answer", "extension", "decision", "served", "evidence")


def _allowed(actor: Actor, o: Objection) -> dict[str, bool]:
    provider = actor.organization_id == o.provider_id
    is_open = o.state == ObjectionState.OPEN
    return {
        "answer": provider and is_open and actor.has(*ANSWERERS),
        "extension": provider
        and is_open
        and actor.has(*ANSWERERS)
        and o.extension not in (ExtensionState.REQUESTED, ExtensionState.APPROVED),
        "decision": provider
        and is_open
        and actor.has(Role.DEPARTMENT_HEAD)
        and o.extension == ExtensionState.REQUESTED,
        "served": actor.organization_id == o.consumer_id
        and not o.state.closed
        and actor.has(*APPLICANTS),
        "evidence": actor.organization_id in (o.consumer_id, o.provider_id) and not o.state.closed,
    }


def _history(o: Objection) -> list[tuple[Any, str, str]]:
    rows = [
        (
            o.raised_at,
            f"提出疑义，应于 {o.raised_on} 起 {o.verify_days} 个工作日内核实",
            o.raised_by,
        )
    ]
    if o.extension_requested_at:
        asked = f"申请将核实期限延长至共 {o.extension_days} 个工作日：{o.extension_reason}"
        rows.append((o.extension_requested_at, asked, o.extension_requested_by or ""))
    if o.extension_decided_at and o.extension:
        decided = f"部门负责人审批：{o.extension.label}，核实期限 {o.due_on}"
        rows.append((o.extension_decided_at, decided, o.extension_decided_by or ""))
    if o.answered_at:
        confirmed = o.state in (ObjectionState.CONFIRMED, ObjectionState.CORRECTED)
        rows.append(
            (
                o.answered_at,
                "答复：属实，予以更正" if confirmed else "答复：不属实，予以驳回",
                o.answered_by or "",
            )
        )
    if o.correction_run_id and o.closed_at:
        carried = f"更正由同步任务 #{o.correction_run_id} 送达数据资源中心，办结"
        rows.append((o.closed_at, carried, "平台"))
    return sorted(rows, key=lambda row: row[0])


def _detail(
    request: Request,
    db_session: DB,
    actor: Actor,
    objection_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    o = objections.get_objection(db_session, actor=actor, objection_id=objection_id)
    shown, forms = form_states(FORMS, failed, form, errors)
    return {
        "o": o,
        "due": _due(db_session, o),
        "allowed": _allowed(actor, o),
        "errors": shown,
        "forms": forms,
        "served": objections.served_of(db_session, actor=actor, objection_id=o.id),
        "accept": documents.ACCEPT,
        "history": _history(o),
        "colours": STATE_COLOURS,
    }


@router.get("/verification/objections/{objection_id}", response_class=HTMLResponse)
def objection_detail(
    request: Request, db_session: DB, actor: PageActor, objection_id: Id
) -> Response:
    return render(
        request, "verification/objection.html", _detail(request, db_session, actor, objection_id)
    )


def _act(
    request: Request,
    db_session: DB,
    actor: Actor,
    objection_id: int,
    which: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _detail(request, db_session, actor, objection_id, which, form, errors)
        return render(request, "verification/objection.html", context, status)

    return attempt(db_session, step, done=objections.LINK.format(id=objection_id), again=again)


@router.post("/verification/objections/{objection_id}/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    db_session: DB,
    actor: PageActor,
    objection_id: Id,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    def step() -> str:
        choice = form.get("confirmed", "")
        if choice not in ("yes", "no"):
            raise Invalid("请选择“属实，予以更正”或“不属实，予以驳回”", field="confirmed")
        o = objections.get_objection(db_session, actor=actor, objection_id=objection_id)
        corrected = {i: form.get(f"corrected_{i}", "").strip() for i in o.items}
        data = validated(
            AnswerIn,
            {
                "confirmed": choice == "yes",
                "answer": form.get("answer", ""),
                "corrected": {i: v for i, v in corrected.items() if v},
            },
        )
        done = objections.answer(
            db_session, actor=actor, objection_id=objection_id, data=data, documents=attached
        )
        return f"已答复：{done.state.label}。"

    return _act(request, db_session, actor, objection_id, "answer", dict(form), step)


@router.post("/verification/objections/{objection_id}/extension", response_class=HTMLResponse)
def request_extension(
    request: Request, db_session: DB, actor: PageActor, objection_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        days = form.get("days", "").strip()
        if not days.isdigit():
            raise Invalid("请填写延期后的工作日总数", field="days")
        data = validated(ExtensionIn, {"days": int(days), "reason": form.get("reason", "")})
        objections.request_extension(db_session, actor=actor, objection_id=objection_id, data=data)
        return "已提交延期申请，待部门负责人审批。"

    return _act(request, db_session, actor, objection_id, "extension", dict(form), step)


@router.post(
    "/verification/objections/{objection_id}/extension/decision", response_class=HTMLResponse
)
def decide_extension(
    request: Request, db_session: DB, actor: PageActor, objection_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        choice = form.get("approve", "")
        if choice not in ("yes", "no"):
            raise Invalid("请选择同意或不同意", field="approve")
        data = validated(
            ExtensionDecisionIn, {"approve": choice == "yes", "comment": form.get("comment", "")}
        )
        done = objections.decide_extension(
            db_session, actor=actor, objection_id=objection_id, data=data
        )
        return f"已{done.extension.label if done.extension else ''}，核实期限 {done.due_on}。"

    return _act(request, db_session, actor, objection_id, "decision", dict(form), step)


@router.post("/verification/objections/{objection_id}/served", response_class=HTMLResponse)
def record_served(
    request: Request, db_session: DB, actor: PageActor, objection_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = validated(
            ServedIn, {"person": form.get("person", ""), "proof": form.get("proof", "")}
        )
        objections.record_served(db_session, actor=actor, objection_id=objection_id, data=data)
        return "已登记凭有效证明办理。"

    return _act(request, db_session, actor, objection_id, "served", dict(form), step)


@router.post("/verification/objections/{objection_id}/evidence", response_class=HTMLResponse)
def attach_evidence(
    request: Request,
    db_session: DB,
    actor: PageActor,
    objection_id: Id,
    attached: PostedDocuments,
) -> Response:
    def step() -> str:
        if not attached:
            raise Invalid("请选择要上传的证明材料", field="attachments")
        o = objections.get_objection(db_session, actor=actor, objection_id=objection_id)
        stored = evidence.attach_to_objection(
            db_session, actor=actor, objection=o, documents=attached
        )
        return f"已上传证明材料 {len(stored)} 份。"

    return _act(request, db_session, actor, objection_id, "evidence", {}, step)


@router.get("/verification/evidence/{evidence_id}")
def evidence_file(db_session: DB, actor: PageActor, evidence_id: Id) -> Response:
    """A document attached to an objection or a mismatch case; reading it is logged."""
    return document_response(evidence.read(db_session, actor=actor, evidence_id=evidence_id))
