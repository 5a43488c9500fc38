"""Pages of supervision (监督考核): rectification notices with their deadline colours and a
notice's page (the department's answer, the operator's acceptance or return), the findings,
the circulated notices (通报) with a printable page in the city's name, and availability."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core import calendar as working_days
from govshare.core import clock, documents, pdf
from govshare.core.errors import Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.core.policy import Violation
from govshare.opendata.pages.common import Due, due
from govshare.supervision.detectors import platform_unit
from govshare.supervision.models import Notice, NoticeState
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import evidence, findings, notices, probes
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.documents import document_response
from govshare.web.forms import (
    PostedDocuments,
    PostedForm,
    attempt,
    form_states,
    validated,
)
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

SHOWS = {
    "open": "待办",
    "waiting": "待部门整改",
    "answered": "待审核",
    "overdue": "已逾期",
    "circulated": "已通报",
    "closed": "整改通过",
    "all": "全部",
}
STATE_COLOURS = {
    "issued": "amber",
    "answered": "",
    "returned": "red",
    "escalated": "red",
    "accepted": "green",
}
FINDING_SHOWS = {"open": "仍存在", "resolved": "已消除", "all": "全部"}
LIST_LIMIT = 2000  # notices on one list: a city's year of them


def _due(db_session: DB, notice: Notice) -> Due | None:
    if not notice.state.awaits_department:
        return None
    today = clock.today()
    calendar = working_days.load(db_session)
    return due(
        calendar, today, notice.due_on, notice.due_provisional, notices.is_overdue(notice, today)
    )


def _chosen(value: str, choices: dict[str, str], default: str) -> str:
    if value not in ("", *choices):
        raise Invalid("请从筛选项中选择", field="show")
    return value or default


def _by_show(every: list[Notice]) -> dict[str, list[Notice]]:
    today = clock.today()
    return {
        "open": [n for n in every if n.state != NoticeState.ACCEPTED],
        "waiting": [n for n in every if n.state.awaits_department],
        "answered": [n for n in every if n.state == NoticeState.ANSWERED],
        "overdue": [n for n in every if notices.is_overdue(n, today)],
        "circulated": [n for n in every if n.circular_number],
        "closed": [n for n in every if n.state == NoticeState.ACCEPTED],
        "all": every,
    }


@router.get("/supervision", response_class=HTMLResponse)
def supervision_home(actor: PageActor) -> Response:
    return redirect("/supervision/notices")


@router.get("/supervision/notices", response_class=HTMLResponse)
def notice_list(request: Request, db_session: DB, actor: PageActor, show: str = "") -> Response:
    chosen = _chosen(show, SHOWS, "open")
    shown = _by_show(notices.list_notices(db_session, actor=actor, limit=LIST_LIMIT))
    rows = shown[chosen]
    unit = platform_unit(db_session)
    return render(
        request,
        "supervision/notices.html",
        {
            "rows": [{"n": n, "due": _due(db_session, n)} for n in rows],
            "show": chosen,
            "shows": [(key, label, len(shown[key])) for key, label in SHOWS.items()],
            "colours": STATE_COLOURS,
            "overseer": actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR),
            "to_answer": sum(notices.permitted(actor, n, unit).answer for n in rows),
        },
    )


# --- a notice's page -------------------------------------------------------------------------

FORMS = ("answer", "decision")


def _detail(
    request: Request,
    db_session: DB,
    actor: Actor,
    notice_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    notice = notices.get_notice(db_session, actor=actor, notice_id=notice_id)
    shown, forms = form_states(FORMS, failed, form, errors)
    return {
        "n": notice,
        "f": notice.finding,
        "due": _due(db_session, notice),
        "allowed": notices.permitted(actor, notice, platform_unit(db_session)),
        "errors": shown,
        "forms": forms,
        "accept": documents.ACCEPT,
        "colours": STATE_COLOURS,
        "rectify_days": runtime_of(request).profile.rules.rectification_days.value,
    }


@router.get("/supervision/notices/{notice_id}", response_class=HTMLResponse)
def notice_detail(request: Request, db_session: DB, actor: PageActor, notice_id: Id) -> Response:
    return render(
        request, "supervision/notice.html", _detail(request, db_session, actor, notice_id)
    )


def _act(
    request: Request,
    db_session: DB,
    actor: Actor,
    notice_id: int,
    which: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _detail(request, db_session, actor, notice_id, which, form, errors)
        return render(request, "supervision/notice.html", context, status)

    return attempt(db_session, step, done=notices.LINK.format(id=notice_id), again=again)


@router.post("/supervision/notices/{notice_id}/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    db_session: DB,
    actor: PageActor,
    notice_id: Id,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    def step() -> str:
        data = validated(NoticeAnswerIn, {"answer": form.get("answer", "")})
        notices.answer(db_session, actor=actor, notice_id=notice_id, data=data, documents=attached)
        return "已反馈整改情况，待平台管理单位审核。"

    return _act(request, db_session, actor, notice_id, "answer", dict(form), step)


@router.post("/supervision/notices/{notice_id}/decision", response_class=HTMLResponse)
def decide(
    request: Request, db_session: DB, actor: PageActor, notice_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        choice = form.get("accept", "")
        if choice not in ("yes", "no"):
            raise Invalid("请选择“整改通过”或“退回重新整改”", field="accept")
        data = validated(
            NoticeDecisionIn, {"accept": choice == "yes", "note": form.get("note", "")}
        )
        done = notices.decide(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            notice_id=notice_id,
            data=data,
        )
        if done.state == NoticeState.ACCEPTED:
            return "整改通过，整改通知已办结。"
        return f"已退回，部门须于 {notices.deadline(done).label} 前重新整改。"

    return _act(request, db_session, actor, notice_id, "decision", dict(form), step)


@router.get("/supervision/evidence/{evidence_id}")
def evidence_file(db_session: DB, actor: PageActor, evidence_id: Id) -> Response:
    """A document attached to an answer; reading it is logged."""
    return document_response(evidence.read(db_session, actor=actor, evidence_id=evidence_id))


# --- findings --------------------------------------------------------------------------------


@router.get("/supervision/findings", response_class=HTMLResponse)
def finding_list(
    request: Request, db_session: DB, actor: PageActor, show: str = "", kind: str = ""
) -> Response:
    chosen = _chosen(show, FINDING_SHOWS, "open")
    if kind not in ("", *Violation):
        raise Invalid("请从违规情形中选择", field="kind")
    violation = Violation(kind) if kind else None
    resolved = {"open": False, "resolved": True, "all": None}
    counts = {
        key: findings.count_findings(db_session, actor=actor, kind=violation, resolved=value)
        for key, value in resolved.items()
    }
    rows = findings.list_findings(
        db_session, actor=actor, kind=violation, resolved=resolved[chosen], limit=500
    )
    by_kind = {
        v: findings.count_findings(db_session, actor=actor, kind=v, resolved=resolved[chosen])
        for v in Violation
    }
    return render(
        request,
        "supervision/findings.html",
        {
            "rows": rows,
            "show": chosen,
            "shows": [(key, label, counts[key]) for key, label in FINDING_SHOWS.items()],
            "kind": kind,
            "kinds": [(v.value, v.label, n) for v, n in by_kind.items() if n],
            "may_detect": actor.has(Role.PLATFORM_OPERATOR),
            "notices": {
                f.id: findings.notice_of(db_session, actor=actor, finding_id=f.id) for f in rows
            },
        },
    )


@router.post("/supervision/detect", response_class=HTMLResponse)
def detect_now(request: Request, db_session: DB, actor: PageActor) -> Response:
    result = findings.detect(db_session, actor=actor, profile=runtime_of(request).profile)
    return redirect(
        "/supervision/findings",
        f"监测完成：新发现 {len(result.found)} 项，仍存在 {result.kept} 项，"
        f"已消除 {len(result.resolved)} 项；下发整改通知 {len(result.issued)} 份。",
    )


# --- circulated notices (通报) ---------------------------------------------------------------


@router.get("/supervision/circulars", response_class=HTMLResponse)
def circular_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = notices.list_notices(db_session, actor=actor, circulated=True, limit=1000)
    return render(request, "supervision/circulars.html", {"rows": rows, "colours": STATE_COLOURS})


@router.get("/supervision/circulars/{notice_id}", response_class=HTMLResponse)
def circular(request: Request, db_session: DB, actor: PageActor, notice_id: Id) -> Response:
    notice = notices.get_circular(db_session, actor=actor, notice_id=notice_id)
    return render(
        request,
        "supervision/circular.html",
        {"n": notice, "paragraphs": notice.circular_text.splitlines()},
    )


@router.get("/supervision/circulars/{notice_id}/pdf")
def circular_pdf(request: Request, db_session: DB, actor: PageActor, notice_id: Id) -> Response:
    n = notices.get_circular(db_session, actor=actor, notice_id=notice_id)
    on = n.escalated_on or clock.today()
    content = pdf.circular(
        issuer=n.circular_issuer,
        number=n.circular_number or "",
        title=n.circular_title,
        paragraphs=n.circular_text.splitlines(),
        signed_on=f"{on.year}年{on.month}月{on.day}日",
        copy_note=f"抄送：平台管理单位。（本通报由平台依据整改通知 {n.number} 的办理记录生成。）",
        font_path=runtime_of(request).settings.pdf_font,
    )
    name = quote(f"通报-{n.circular_number}.pdf")
    disposition = f"attachment; filename=\"circular.pdf\"; filename*=UTF-8''{name}"
    return Response(
        content, media_type=pdf.MEDIA_TYPE, headers={"Content-Disposition": disposition}
    )


# --- availability ----------------------------------------------------------------------------


def _month(value: str) -> date:
    if not value:
        return clock.today().replace(day=1)
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise Invalid("月份格式应为 年-月，如 2026-12", field="month") from None


@router.get("/supervision/availability", response_class=HTMLResponse)
def availability(request: Request, db_session: DB, actor: PageActor, month: str = "") -> Response:
    first = _month(month)
    found = probes.availability(db_session, actor=actor, month=first)
    days = sorted({d.on for a in found for d in a.days})
    previous = (first.replace(day=1) - date.resolution).replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return render(
        request,
        "supervision/availability.html",
        {
            "rows": found,
            "month": first,
            "days": days,
            "today": clock.today(),
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m") if following <= clock.today() else "",
        },
    )
