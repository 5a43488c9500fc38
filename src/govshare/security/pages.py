"""Pages of security operations (安全管理): the incident register with each incident's
reports, timeline and handling; the yearly security test and emergency drill; inspections, risk
assessments and secrecy checks with their findings and the notices they became."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core import clock, documents
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.core.policy import IncidentLevel
from govshare.identity.service import list_organizations
from govshare.security.models import (
    CheckKind,
    EntryKind,
    ExerciseKind,
    IncidentKind,
    IncidentState,
    Recipient,
)
from govshare.security.schemas import (
    CheckFindingIn,
    CheckIn,
    CloseIn,
    EntryIn,
    ExerciseIn,
    ExerciseResultIn,
    IncidentIn,
    ReportIn,
)
from govshare.security.service import checks, common, exercises, incidents
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

SHOWS = {"handling": "处置中", "overdue": "报告逾期", "closed": "已结案", "all": "全部"}
STATUS_COLOURS = {"due": "amber", "overdue": "red", "on_time": "green", "late": "red"}
LEVEL_COLOURS = {"especially_major": "red", "major": "red", "large": "amber", "general": ""}
NOTICE_COLOURS = {
    "issued": "amber",
    "answered": "",
    "returned": "red",
    "escalated": "red",
    "accepted": "green",
}


def _fail(
    request: Request,
    db_session: DB,
    exc: DomainError,
    template: str,
    context: Callable[[str, dict[str, str]], dict[str, Any]],
) -> Response:
    db_session.rollback()
    return render(request, template, context("", field_errors(exc)), exc.status)


@router.get("/security", response_class=HTMLResponse)
def security_home(actor: PageActor) -> Response:
    return redirect("/security/incidents")


# --- incidents -------------------------------------------------------------------------------


@router.get("/security/incidents", response_class=HTMLResponse)
def incident_list(request: Request, db_session: DB, actor: PageActor, show: str = "") -> Response:
    if show not in ("", *SHOWS):
        raise Invalid("请从筛选项中选择", field="show")
    chosen = show or "handling"
    filters: dict[str, dict[str, Any]] = {
        "handling": {"state": IncidentState.HANDLING},
        "overdue": {"overdue": True},
        "closed": {"state": IncidentState.CLOSED},
        "all": {},
    }
    counts = {
        key: incidents.count_incidents(db_session, actor=actor, **f) for key, f in filters.items()
    }
    rows = incidents.list_incidents(db_session, actor=actor, limit=500, **filters[chosen])
    now = clock.now()
    return render(
        request,
        "security/incidents.html",
        {
            "rows": [
                {"i": i, "reports": [(r, incidents.report_status(r, now)) for r in i.reports]}
                for i in rows
            ],
            "show": chosen,
            "shows": [(key, label, counts[key]) for key, label in SHOWS.items()],
            "may_register": actor.has(common.OPERATOR, *common.HANDLERS),
            "overseer": actor.has(*common.OVERSEERS),
            "colours": STATUS_COLOURS,
            "levels": LEVEL_COLOURS,
        },
    )


def _new_context(
    db_session: DB, actor: Actor, form: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "kinds": IncidentKind.choices(),
        "levels": [(level.value, level.label) for level in IncidentLevel],
        "departments": list_organizations(db_session, actor=actor),
        "resources": incidents.resource_choices(db_session, actor=actor),
        "own": actor.organization_id,
        "operator": actor.has(common.OPERATOR),
    }


@router.get("/security/incidents/new", response_class=HTMLResponse)
def incident_form(request: Request, db_session: DB, actor: PageActor) -> Response:
    if not actor.has(common.OPERATOR, *common.HANDLERS):
        raise Invalid("当前身份无权登记安全事件")
    now = clock.to_city(clock.now()).strftime("%Y-%m-%dT%H:%M")
    own = [] if actor.has(common.OPERATOR) else [str(actor.organization_id)]
    form = {"occurred_at": now, "discovered_at": now, "department_ids": own}
    return render(request, "security/incident_new.html", _new_context(db_session, actor, form, {}))


@router.post("/security/incidents", response_class=HTMLResponse)
def incident_register(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    try:
        data = validated(IncidentIn, form)
        incident = incidents.register(
            db_session, actor=actor, profile=runtime_of(request).profile, data=data
        )
    except DomainError as exc:
        db_session.rollback()
        context = _new_context(db_session, actor, form, field_errors(exc))
        return render(request, "security/incident_new.html", context, exc.status)
    return redirect(
        incidents.LINK.format(id=incident.id),
        f"已登记安全事件 {incident.number}，请在报告时限内向网信部门和主管部门报告。",
    )


FORMS = ("entry", "report", "level", "close")


def _incident_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    incident_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    incident = incidents.get_incident(db_session, actor=actor, incident_id=incident_id)
    shown, forms = form_states(FORMS, failed, form, errors)
    now = clock.now()
    return {
        "i": incident,
        "reports": [(r, incidents.report_status(r, now)) for r in incident.reports],
        "allowed": incidents.permitted(actor, incident),
        "errors": shown,
        "forms": forms,
        "now": clock.to_city(now).strftime("%Y-%m-%dT%H:%M"),
        "entry_kinds": EntryKind.choices(),
        "recipients": [(r.value, r.label) for r in Recipient if not _reported(incident, r)],
        "levels": [
            (level.value, level.label) for level in IncidentLevel if level != incident.level
        ],
        "colours": STATUS_COLOURS,
        "level_colours": LEVEL_COLOURS,
        "hours": runtime_of(request).profile.rules.incident_report_hours,
    }


def _reported(incident: Any, recipient: Recipient) -> bool:
    return any(r.recipient == recipient and r.reported_at for r in incident.reports)


@router.get("/security/incidents/{incident_id}", response_class=HTMLResponse)
def incident_detail(
    request: Request, db_session: DB, actor: PageActor, incident_id: Id
) -> Response:
    context = _incident_context(request, db_session, actor, incident_id)
    return render(request, "security/incident.html", context)


def _act(
    request: Request,
    db_session: DB,
    actor: Actor,
    incident_id: int,
    which: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _incident_context(request, db_session, actor, incident_id, which, form, errors)
        return render(request, "security/incident.html", context, status)

    return attempt(db_session, step, done=incidents.LINK.format(id=incident_id), again=again)


@router.post("/security/incidents/{incident_id}/entries", response_class=HTMLResponse)
def incident_entry(
    request: Request, db_session: DB, actor: PageActor, incident_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = validated(EntryIn, form)
        incidents.add_entry(db_session, actor=actor, incident_id=incident_id, data=data)
        return f"已记录{data.kind.label}。"

    return _act(request, db_session, actor, incident_id, "entry", dict(form), step)


@router.post("/security/incidents/{incident_id}/reports", response_class=HTMLResponse)
def incident_report(
    request: Request, db_session: DB, actor: PageActor, incident_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = validated(ReportIn, form)
        incidents.report(db_session, actor=actor, incident_id=incident_id, data=data)
        return f"已记录向{data.recipient.label}的报告。"

    return _act(request, db_session, actor, incident_id, "report", dict(form), step)


@router.post("/security/incidents/{incident_id}/level", response_class=HTMLResponse)
def incident_level(
    request: Request, db_session: DB, actor: PageActor, incident_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        value = form.get("level", "")
        if value not in set(IncidentLevel):
            raise Invalid("请选择事件级别", field="level")
        incidents.reclassify(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            incident_id=incident_id,
            level=IncidentLevel(value),
            reason=form.get("reason", ""),
        )
        return "已调整事件级别，未完成的报告按新级别重新计算时限。"

    return _act(request, db_session, actor, incident_id, "level", dict(form), step)


@router.post("/security/incidents/{incident_id}/close", response_class=HTMLResponse)
def incident_close(
    request: Request, db_session: DB, actor: PageActor, incident_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = validated(CloseIn, form)
        incidents.close(db_session, actor=actor, incident_id=incident_id, data=data)
        return "安全事件已结案。"

    return _act(request, db_session, actor, incident_id, "close", dict(form), step)


# --- exercises -------------------------------------------------------------------------------


def _year(value: str) -> int:
    if not value:
        return clock.today().year
    if not value.isdigit() or not 2000 <= int(value) <= 2100:
        raise Invalid("年度应为四位数字，如 2026", field="year")
    return int(value)


def _exercises_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    year: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    profile = runtime_of(request).profile
    return {
        "year": year,
        "this_year": clock.today().year,
        "duties": exercises.year_duties(db_session, actor=actor, profile=profile, year=year),
        "rows": exercises.list_exercises(db_session, actor=actor, year=year),
        "may_plan": actor.has(common.OPERATOR),
        "kinds": ExerciseKind.choices(),
        "form": form or {"year": str(year)},
        "errors": errors or {},
        "accept": documents.ACCEPT,
        "rule": profile.rules.security_exercise_due,
    }


@router.get("/security/exercises", response_class=HTMLResponse)
def exercise_list(request: Request, db_session: DB, actor: PageActor, year: str = "") -> Response:
    context = _exercises_context(request, db_session, actor, _year(year))
    return render(request, "security/exercises.html", context)


@router.post("/security/exercises", response_class=HTMLResponse)
def exercise_plan(
    request: Request,
    db_session: DB,
    actor: PageActor,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    try:
        data = validated(ExerciseIn, form)
        exercise = exercises.plan(db_session, actor=actor, data=data, documents=attached)
    except DomainError as exc:
        db_session.rollback()
        year = _year(form.get("year", "")) if str(form.get("year", "")).isdigit() else None
        context = _exercises_context(
            request, db_session, actor, year or clock.today().year, form, field_errors(exc)
        )
        return render(request, "security/exercises.html", context, exc.status)
    return redirect(exercises.LINK.format(id=exercise.id), f"已制定{exercise.kind.label}计划。")


def _exercise_context(
    db_session: DB,
    actor: Actor,
    exercise_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    shown, forms = form_states(("result", "attach"), failed, form, errors)
    return {
        "e": exercises.get_exercise(db_session, actor=actor, exercise_id=exercise_id),
        "may_act": actor.has(common.OPERATOR),
        "errors": shown,
        "forms": forms,
        "accept": documents.ACCEPT,
    }


@router.get("/security/exercises/{exercise_id}", response_class=HTMLResponse)
def exercise_detail(
    request: Request, db_session: DB, actor: PageActor, exercise_id: Id
) -> Response:
    context = _exercise_context(db_session, actor, exercise_id)
    return render(request, "security/exercise.html", context)


def _exercise_step(
    request: Request,
    db_session: DB,
    actor: Actor,
    exercise_id: int,
    which: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _exercise_context(db_session, actor, exercise_id, which, form, errors)
        return render(request, "security/exercise.html", context, status)

    return attempt(db_session, step, done=exercises.LINK.format(id=exercise_id), again=again)


@router.post("/security/exercises/{exercise_id}/result", response_class=HTMLResponse)
def exercise_result(
    request: Request,
    db_session: DB,
    actor: PageActor,
    exercise_id: Id,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    def step() -> str:
        data = validated(ExerciseResultIn, form)
        exercises.record_result(
            db_session, actor=actor, exercise_id=exercise_id, data=data, documents=attached
        )
        return "已登记开展情况和结果。"

    return _exercise_step(request, db_session, actor, exercise_id, "result", dict(form), step)


@router.post("/security/exercises/{exercise_id}/documents", response_class=HTMLResponse)
def exercise_attach(
    request: Request, db_session: DB, actor: PageActor, exercise_id: Id, attached: PostedDocuments
) -> Response:
    def step() -> str:
        if not attached:
            raise Invalid("请选择要上传的文件", field="attachments")
        exercises.attach(db_session, actor=actor, exercise_id=exercise_id, documents=attached)
        return f"已上传 {len(attached)} 个附件。"

    return _exercise_step(request, db_session, actor, exercise_id, "attach", {}, step)


@router.get("/security/documents/{document_id}")
def document_file(db_session: DB, actor: PageActor, document_id: Id) -> Response:
    """An exercise's or a check's scanned document; reading it is logged."""
    return document_response(common.read_document(db_session, actor=actor, document_id=document_id))


# --- checks ----------------------------------------------------------------------------------


def _checks_context(
    db_session: DB,
    actor: Actor,
    kind: CheckKind | None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    rows = checks.list_checks(db_session, actor=actor, kind=kind)
    return {
        "rows": [
            {
                "c": c,
                "findings": checks.visible_findings(actor, c),
                "notices": checks.notices_of(db_session, actor=actor, check=c),
            }
            for c in rows
        ],
        "kind": kind.value if kind else "",
        "kinds": CheckKind.choices(),
        "may_record": actor.has(common.OPERATOR),
        "overseer": actor.has(*common.OVERSEERS),
        "form": form or {"checked_on": clock.today().isoformat()},
        "errors": errors or {},
        "accept": documents.ACCEPT,
        "colours": NOTICE_COLOURS,
    }


@router.get("/security/checks", response_class=HTMLResponse)
def check_list(request: Request, db_session: DB, actor: PageActor, kind: str = "") -> Response:
    if kind not in ("", *CheckKind):
        raise Invalid("请从检查类别中选择", field="kind")
    context = _checks_context(db_session, actor, CheckKind(kind) if kind else None)
    return render(request, "security/checks.html", context)


@router.post("/security/checks", response_class=HTMLResponse)
def check_record(
    request: Request,
    db_session: DB,
    actor: PageActor,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    try:
        data = validated(CheckIn, form)
        check = checks.record_check(db_session, actor=actor, data=data, documents=attached)
    except DomainError as exc:
        db_session.rollback()
        context = _checks_context(db_session, actor, None, form, field_errors(exc))
        return render(request, "security/checks.html", context, exc.status)
    return redirect(
        checks.LINK.format(id=check.id),
        f"已登记{check.kind.label} {check.number}；如发现问题，请逐项登记，系统即向相关部门下发整改通知。",
    )


def _check_context(
    db_session: DB,
    actor: Actor,
    check_id: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    check = checks.get_check(db_session, actor=actor, check_id=check_id)
    operator = actor.has(common.OPERATOR)
    return {
        "c": check,
        "findings": checks.visible_findings(actor, check),
        "notices": checks.notices_of(db_session, actor=actor, check=check),
        "may_record": operator,
        "overseer": actor.has(*common.OVERSEERS),
        "departments": list_organizations(db_session, actor=actor) if operator else [],
        "form": form or {},
        "errors": errors or {},
        "colours": NOTICE_COLOURS,
    }


@router.get("/security/checks/{check_id}", response_class=HTMLResponse)
def check_detail(request: Request, db_session: DB, actor: PageActor, check_id: Id) -> Response:
    return render(request, "security/check.html", _check_context(db_session, actor, check_id))


@router.post("/security/checks/{check_id}/findings", response_class=HTMLResponse)
def check_finding(
    request: Request, db_session: DB, actor: PageActor, check_id: Id, form: PostedForm
) -> Response:
    try:
        data = validated(CheckFindingIn, form)
        _, notice = checks.add_finding(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            check_id=check_id,
            data=data,
        )
    except DomainError as exc:
        db_session.rollback()
        context = _check_context(db_session, actor, check_id, dict(form), field_errors(exc))
        return render(request, "security/check.html", context, exc.status)
    return redirect(
        checks.LINK.format(id=check_id),
        f"已登记问题，并向{notice.department.name}下发整改通知 {notice.number}。",
    )
