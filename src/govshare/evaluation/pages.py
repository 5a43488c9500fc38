"""Pages of evaluation (考核评价): a period's ranking, a unit's detail with each indicator's
facts and the operator's adjustments, publishing a year, and the reports (Excel, PDF)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core import clock, pdf
from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.evaluation import export
from govshare.evaluation.schemas import AdjustmentIn, PublishIn
from govshare.evaluation.service import results, scores
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, validated
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


def _periods(period: scores.Period) -> list[tuple[str, str]]:
    """The periods offered beside the chosen one: its year, quarters and months so far."""
    year = period.year
    shown = [(str(year), f"{year}年度")]
    shown += [(f"{year}-Q{q}", f"第{'一二三四'[q - 1]}季度") for q in range(1, 5)]
    last = 12 if year < clock.today().year else clock.today().month
    shown += [(f"{year}-{m:02d}", f"{m}月") for m in range(1, last + 1)]
    return shown


def _ranking(
    request: Request, db_session: DB, actor: Actor, period: str, **extra: Any
) -> dict[str, Any]:
    runtime = runtime_of(request)
    chosen = scores.parse_period(period)
    found = results.evaluate(
        db_session, actor=actor, profile=runtime.profile, city=runtime.city_name, period=chosen
    )
    operator = actor.has(Role.PLATFORM_OPERATOR)
    return {
        "result": found,
        "period": chosen,
        "periods": _periods(chosen),
        "years": [chosen.year - 1, chosen.year, chosen.year + 1],
        "operator": operator,
        "may_publish": operator
        and chosen.kind == "year"
        and found.published_at is None
        and chosen.year < clock.today().year,
        "published": results.list_snapshots(db_session, actor=actor),
        "errors": {},
        **extra,
    }


@router.get("/evaluation", response_class=HTMLResponse)
def ranking(request: Request, db_session: DB, actor: PageActor, period: str = "") -> Response:
    return render(request, "evaluation/ranking.html", _ranking(request, db_session, actor, period))


@router.post("/evaluation/publish", response_class=HTMLResponse)
def publish(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    runtime = runtime_of(request)
    year = str(form.get("year", ""))
    try:
        data = validated(PublishIn, {"year": year, "note": form.get("note", "")})
        results.publish(
            db_session, actor=actor, profile=runtime.profile, city=runtime.city_name, data=data
        )
    except DomainError as exc:
        db_session.rollback()
        context = _ranking(request, db_session, actor, year, errors=field_errors(exc))
        return render(request, "evaluation/ranking.html", context, exc.status)
    return redirect(f"/evaluation?period={year}", f"{year}年度考核结果已发布，此后不再变动。")


def _detail(
    request: Request, db_session: DB, actor: Actor, unit_id: int, period: str, **extra: Any
) -> dict[str, Any]:
    runtime = runtime_of(request)
    chosen = scores.parse_period(period)
    found, unit = results.unit_detail(
        db_session,
        actor=actor,
        profile=runtime.profile,
        city=runtime.city_name,
        period=chosen,
        unit_id=unit_id,
    )
    return {
        "result": found,
        "unit": unit,
        "period": chosen,
        "definitions": {i["code"]: i for i in found.indicators},
        "labels": scores.fact_labels(),
        "may_adjust": actor.has(Role.PLATFORM_OPERATOR) and found.published_at is None,
        "errors": {},
        "form": {},
        **extra,
    }


@router.get("/evaluation/units/{unit_id}", response_class=HTMLResponse)
def unit_detail(
    request: Request, db_session: DB, actor: PageActor, unit_id: Id, period: str = ""
) -> Response:
    context = _detail(request, db_session, actor, unit_id, period)
    return render(request, "evaluation/unit.html", context)


@router.post("/evaluation/units/{unit_id}/adjustments", response_class=HTMLResponse)
def adjust(
    request: Request, db_session: DB, actor: PageActor, unit_id: Id, form: PostedForm
) -> Response:
    period = str(form.get("period", ""))
    values = {
        "organization_id": unit_id,
        "points": form.get("points", ""),
        "reason": form.get("reason", ""),
    }
    try:
        chosen = scores.parse_period(period)
        data = validated(AdjustmentIn, values)
        results.adjust(db_session, actor=actor, period=chosen, data=data)
    except DomainError as exc:
        db_session.rollback()
        context = _detail(
            request,
            db_session,
            actor,
            unit_id,
            "" if exc.field == "period" else period,
            errors=field_errors(exc),
            form=values,
        )
        return render(request, "evaluation/unit.html", context, exc.status)
    return redirect(f"/evaluation/units/{unit_id}?period={period}", "已记录得分调整及理由。")


def _report(
    request: Request, db_session: DB, actor: Actor, period: str, kind: str
) -> results.Result:
    runtime = runtime_of(request)
    return results.report(
        db_session,
        actor=actor,
        profile=runtime.profile,
        city=runtime.city_name,
        period=scores.parse_period(period),
        kind=kind,
    )


def _download(content: bytes, media_type: str, filename: str, fallback: str) -> Response:
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/evaluation/report.xlsx")
def report_xlsx(request: Request, db_session: DB, actor: PageActor, period: str = "") -> Response:
    found = _report(request, db_session, actor, period, "xlsx")
    name = f"考核评价-{found.period.key}.xlsx"
    return _download(export.workbook(found), export.XLSX_MEDIA_TYPE, name, "evaluation.xlsx")


@router.get("/evaluation/report.pdf")
def report_pdf(request: Request, db_session: DB, actor: PageActor, period: str = "") -> Response:
    found = _report(request, db_session, actor, period, "pdf")
    name = f"考核结果-{found.period.key}.pdf"
    content = export.report(found, font_path=runtime_of(request).settings.pdf_font)
    return _download(content, pdf.MEDIA_TYPE, name, "evaluation.pdf")
