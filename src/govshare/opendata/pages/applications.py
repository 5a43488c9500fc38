"""Pages of the public's applications for conditional open data (有条件开放申请, OPN-2,
SR§22): the list — the provider's department sees its own, the operator, authority and
auditors all — with each deadline's date and working days left, and an application's page
with the provider's answer form. An answer is delivered to the portal at once, in the
request's transaction, as the JSON API does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.opendata.models import PublicApplication, PublicApplicationState
from govshare.opendata.pages.common import deliver_now, due, identity_code
from govshare.opendata.service import public
from govshare.sharing.pages.common import placed
from govshare.web.deps import DB, PageActor
from govshare.web.forms import field_errors
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

SHOWS = {"all": "全部", "pending": "待答复", "overdue": "已超期"}
ANSWER_FIELDS = ("decision", "fields", "valid_until", "answer", "legal_basis")
VALIDITY_DEFAULT_DAYS = 365


def _link(application: PublicApplication) -> str:
    return f"/opendata/applications/{application.id}"


def _show(value: str) -> str:
    if value not in ("", *SHOWS):
        raise Invalid("请从“全部”“待答复”“已超期”中选择", field="show")
    return value or "all"


@router.get("/opendata/applications", response_class=HTMLResponse)
def application_list(
    request: Request, db_session: DB, actor: PageActor, show: str = ""
) -> Response:
    chosen = _show(show)
    every = public.list_applications(db_session, actor=actor)
    today = clock.today()
    calendar = working_days.load(db_session)
    pending = [a for a in every if a.state is PublicApplicationState.PENDING]
    shown = {
        "all": every,
        "pending": pending,
        "overdue": [a for a in pending if public.is_overdue(a, today)],
    }
    return render(
        request,
        "opendata/applications.html",
        {
            "rows": [
                {
                    "application": a,
                    "code": identity_code(a.applicant_kind, a.applicant_code),
                    "due": due(
                        calendar, today, a.due_on, a.due_provisional, public.is_overdue(a, today)
                    )
                    if a.state is PublicApplicationState.PENDING
                    else None,
                }
                for a in shown[chosen]
            ],
            "show": chosen,
            "shows": [(key, label, len(shown[key])) for key, label in SHOWS.items()],
            "department": actor.organization_id,
        },
    )


def _form_defaults(application: PublicApplication) -> dict[str, Any]:
    until = clock.today() + timedelta(days=VALIDITY_DEFAULT_DAYS)
    return {
        "decision": "",
        "fields": list(application.fields),
        "valid_until": until.isoformat(),
        "answer": "",
        "legal_basis": "",
    }


def _history(application: PublicApplication) -> list[tuple[Any, str, str]]:
    a = application
    rows = [
        (a.submitted_at, "在开放门户提交申请", a.applicant_name),
        (a.received_at, f"平台受理，编号 {a.number}，答复期限 {a.due_on}", "平台"),
    ]
    if a.answered_at:
        rows.append((a.answered_at, f"答复：{a.state.label}", a.answered_by or ""))
    if a.delivered_at:
        rows.append((a.delivered_at, "答复已送达开放门户", "平台"))
    return sorted(rows, key=lambda row: row[0])


def _detail_context(
    db_session: DB,
    actor: Actor,
    application_id: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    application = public.get_application(db_session, actor=actor, application_id=application_id)
    version = application.resource.current_version
    items = {item.name: item for item in version.items} if version else {}
    today = clock.today()
    pending = application.state is PublicApplicationState.PENDING
    return {
        "application": application,
        "resource": application.resource,
        "version": version,
        "items": items,
        "code": identity_code(application.applicant_kind, application.applicant_code),
        "due": due(
            working_days.load(db_session),
            today,
            application.due_on,
            application.due_provisional,
            public.is_overdue(application, today),
        )
        if pending
        else None,
        "late": application.answered_at is not None
        and clock.to_city(application.answered_at).date() > application.due_on,
        "may_answer": public.may_answer(actor, application),
        "form": form or _form_defaults(application),
        "errors": errors or {},
        "today": today.isoformat(),
        "history": _history(application),
    }


@router.get("/opendata/applications/{application_id}", response_class=HTMLResponse)
def application_detail(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    context = _detail_context(db_session, actor, application_id)
    return render(request, "opendata/application.html", context)


async def _answer_form(request: Request) -> dict[str, Any]:
    posted = await request.form()
    form: dict[str, Any] = {
        key: (value.strip() if isinstance(value := posted.get(key, ""), str) else "")
        for key in ANSWER_FIELDS
    }
    form["fields"] = [v for v in posted.getlist("fields") if isinstance(v, str) and v]
    return form


def _answer_in(form: dict[str, Any]) -> public.PublicAnswerIn:
    """The answer the form describes; every broken rule at once, keyed to its input."""
    if form["decision"] not in ("approve", "refuse"):
        raise Invalid("请选择“同意开放”或“不同意开放”", field="decision")
    approve = form["decision"] == "approve"
    problems: list[dict[str, str]] = []
    if approve and not form["fields"]:
        problems.append({"field": "fields", "message": "请至少勾选一个同意开放的信息项"})
    try:
        data = public.PublicAnswerIn.model_validate(
            {
                "approve": approve,
                "answer": form["answer"],
                "legal_basis": form["legal_basis"] if not approve else "",
                "fields": form["fields"] if approve else [],
                "valid_until": (form["valid_until"] or None) if approve else None,
            }
        )
    except ValidationError as exc:
        problems += [{"field": k, "message": v} for k, v in field_errors(exc).items()]
        data = None
    if problems or data is None:
        raise Invalid(problems[0]["message"], field=problems[0]["field"], errors=problems)
    return data


@router.post("/opendata/applications/{application_id}/answer", response_class=HTMLResponse)
async def answer(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    form = await _answer_form(request)
    try:
        answered = public.answer(
            db_session, actor=actor, application_id=application_id, data=_answer_in(form)
        )
    except DomainError as exc:
        db_session.rollback()
        errors = placed(field_errors(exc), ANSWER_FIELDS)
        context = _detail_context(db_session, actor, application_id, form, errors)
        return render(request, "opendata/application.html", context, exc.status)
    what = "同意开放" if answered.state is PublicApplicationState.APPROVED else "不同意开放"
    delivered = deliver_now(request, db_session, public.deliver)
    return redirect(_link(answered), f"已答复：{what}。{delivered}")
