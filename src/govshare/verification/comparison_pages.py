"""Pages of comparisons (比对, 一数一源 多元校核, VER-3): the list with its run-now buttons; the
operator's set-up form (a fixed number of pair rows, blank ones ignored, so that it works
without scripts); a comparison's last counts, its history as a chart and a table, and its
cases; each department's cases to settle with their deadlines, a case's page with the
department's answer and the operator's mediation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.catalog.models import Resource
from govshare.core import clock, documents
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import TableBinding
from govshare.sharing.service.common import ANSWERERS
from govshare.verification.comparison import Normaliser
from govshare.verification.comparison_models import (
    LIVE_STATES,
    Comparison,
    ComparisonRunRecord,
    Mismatch,
    MismatchKind,
    MismatchState,
    Schedule,
    Side,
)
from govshare.verification.comparison_schemas import CaseAnswerIn, ComparisonIn, MediationIn
from govshare.verification.pages import open_due
from govshare.verification.service import comparisons
from govshare.web.deps import DB, PageActor, runtime_of
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

KEY_ROWS = 3  # rows of the key mapping on the set-up form
ITEM_ROWS = 8  # rows of compared items; blank rows are ignored
PAGE_SIZE = 50
NORMALISERS = tuple(Normaliser)  # offered in the order they run
NORMALISER_LABELS = {n: n.label for n in Normaliser}
CLOSED = (MismatchState.SETTLED, MismatchState.GONE)
SHOWS = {
    "all": "全部",
    "open": "待处理",
    "overdue": "已超期",
    "disputed": "有争议",
    "closed": "已办结",
}
FILTERS: dict[str, dict[str, Any]] = {
    "all": {},
    "open": {"state": MismatchState.OPEN},
    "overdue": {"overdue": True},
    "disputed": {"state": MismatchState.DISPUTED},
    "closed": {"state": CLOSED},
}
STATE_COLOURS = {
    "open": "amber",
    "corrected": "green",
    "disputed": "red",
    "settled": "grey",
    "gone": "grey",
}


def _page_number(value: str) -> int:
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


def _due(db_session: DB, m: Mismatch) -> Any:
    return open_due(db_session, m, m.state == MismatchState.OPEN, comparisons.is_overdue)


# --- the list --------------------------------------------------------------------------------


@router.get("/verification/comparisons", response_class=HTMLResponse)
def comparison_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = [
        {
            "c": c,
            "run": comparisons.last_run(db_session, actor=actor, comparison_id=c.id),
            "live": comparisons.count_mismatches(
                db_session, actor=actor, comparison_id=c.id, state=LIVE_STATES
            ),
        }
        for c in comparisons.list_comparisons(db_session, actor=actor)
    ]
    return render(
        request,
        "verification/comparisons.html",
        {"rows": rows, "operator": actor.has(Role.PLATFORM_OPERATOR)},
    )


@router.post("/verification/comparisons/{comparison_id}/run", response_class=HTMLResponse)
def run_now(request: Request, db_session: DB, actor: PageActor, comparison_id: Id) -> Response:
    runtime = runtime_of(request)
    run = comparisons.run_now(
        db_session,
        actor=actor,
        profile=runtime.profile,
        center=runtime.center,
        comparison_id=comparison_id,
    )
    if run.error:
        message = f"比对失败：{run.error}"
    else:
        message = (
            f"比对完成：匹配 {run.matched} 条，不一致 {run.mismatches} 条，"
            f"新发现 {run.cases_opened} 件，消除 {run.cases_gone} 件。"
        )
    return redirect(f"/verification/comparisons/{comparison_id}", message)


# --- the set-up form, to define a comparison or change it -----------------------------------

FORM = "verification/comparison_form.html"
SPARE_ROWS = 2  # blank rows after a comparison's own on the edit form, to add pairs
ROWS_MAX = 100  # rows read from a posted form (a comparison has at most 100 items)
ACTIVITY = {"yes": "启用", "no": "停用"}


def _bound(db_session: DB) -> list[dict[str, Any]]:
    """The resources bound to a table in the center: only they can be compared."""
    found = db_session.execute(
        sa.select(Resource, TableBinding).join(
            TableBinding, TableBinding.resource_id == Resource.id
        )
    ).unique()
    bound: dict[int, dict[str, Any]] = {}
    for resource, binding in found:
        version = resource.current_version
        bound.setdefault(
            resource.id,
            {
                "id": resource.id,
                "code": resource.code,
                "name": version.name if version else resource.code,
                "department": resource.provider.short_name or resource.provider.name,
                "items": [c["item"] for c in binding.columns],
            },
        )
    return sorted(bound.values(), key=lambda r: (r["department"], r["code"]))


def _row(pair: dict[str, Any], authority: bool) -> dict[str, Any]:
    shown = {
        "name": pair.get("name", ""),
        "left": pair.get("left", ""),
        "right": pair.get("right", ""),
        "normalise": list(pair.get("normalise", [])),
    }
    if authority:
        shown["authority"] = pair.get("authority", "")
    return shown


def _padded(pairs: list[dict[str, Any]], least: int, authority: bool) -> list[dict[str, Any]]:
    """Pairs as form rows, then blank ones: `least` rows in all, or SPARE_ROWS more than
    there are pairs."""
    count = max(least, len(pairs) + SPARE_ROWS)
    return [_row(p, authority) for p in pairs] + [
        _row({}, authority) for _ in range(count - len(pairs))
    ]


def _blank_form() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "left_resource_id": "",
        "right_resource_id": "",
        "key_authority": "",
        "schedule": Schedule.NONE.value,
        "active": "yes",
        "keys": _padded([], KEY_ROWS, False),
        "items": _padded([], ITEM_ROWS, True),
    }


def _form_of(c: Comparison) -> dict[str, Any]:
    """The set-up form filled with a comparison's current definition."""
    return {
        "name": c.name,
        "description": c.description,
        "left_resource_id": str(c.left_resource_id),
        "right_resource_id": str(c.right_resource_id),
        "key_authority": c.key_authority.value if c.key_authority else "",
        "schedule": c.schedule.value,
        "active": "yes" if c.active else "no",
        "keys": _padded(c.keys, KEY_ROWS, False),
        "items": _padded(c.items, ITEM_ROWS, True),
    }


def _form_context(
    db_session: DB,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    comparison: Comparison | None = None,
) -> dict[str, Any]:
    """The set-up form's page: a new comparison's, or `comparison`'s to change it."""
    bound = _bound(db_session)
    return {
        "bound": bound,
        "left_items": sorted({i for r in bound for i in r["items"]}),
        "form": form,
        "errors": errors or {},
        "normalisers": [(n.value, NORMALISER_LABELS[n]) for n in NORMALISERS],
        "schedules": Schedule.choices(),
        "sides": Side.choices(),
        "activity": list(ACTIVITY.items()),
        "comparison": comparison,
    }


def _require_operator(actor: Actor, action: str) -> None:
    require(actor, Role.PLATFORM_OPERATOR, action=action)


@router.get("/verification/comparisons/new", response_class=HTMLResponse)
def new_comparison(request: Request, db_session: DB, actor: PageActor) -> Response:
    _require_operator(actor, "定义比对")
    return render(request, FORM, _form_context(db_session, _blank_form()))


def _rows(form: dict[str, Any], prefix: str, least: int, authority: bool) -> list[dict[str, Any]]:
    """The pair rows as typed (`key_2_left`, `item_5_trim`…), for showing them again: `least`
    rows, or as many as the form had (an edit form has a row per pair and spare ones)."""
    numbers = (re.match(rf"{prefix}_(\d+)_", field) for field in form)
    count = min(max([least, *(int(n.group(1)) for n in numbers if n)]), ROWS_MAX)
    rows = []
    for row in range(1, count + 1):
        field = f"{prefix}_{row}_"
        shown = {
            "name": form.get(field + "name", ""),
            "left": form.get(field + "left", ""),
            "right": form.get(field + "right", ""),
            "normalise": [n.value for n in NORMALISERS if form.get(field + n.value)],
        }
        if authority:
            shown["authority"] = form.get(field + "authority", "")
        rows.append(shown)
    return rows


def _filled(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The rows with an item on either side, each with its row number on the form; a pair's
    name defaults to its left item's."""
    filled = []
    for number, row in enumerate(rows, start=1):
        if not (row["left"] or row["right"]):
            continue
        pair = dict(row, name=row["name"] or row["left"] or row["right"])
        if "authority" in pair and not pair["authority"]:
            pair.pop("authority")
        filled.append((number, pair))
    return filled


ROW_ERROR = re.compile(r"^(keys|items)(?:\[(\d+)\]|\.(\d+))\.?(\w*)$")


def _on_rows(errors: dict[str, str], numbers: dict[str, list[int]]) -> dict[str, str]:
    """Errors named after the submitted lists (`items[2].left` from the service, `items.3.left`
    from the schema) renamed after the form's rows (`items.5.left`), blank rows skipped."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        found = ROW_ERROR.match(field)
        if not found:
            out.setdefault(field, message)
            continue
        path, zero_based, one_based, sub = found.groups()
        index = int(zero_based) if zero_based is not None else int(one_based) - 1
        rows = numbers[path]
        row = rows[index] if index < len(rows) else index + 1
        out.setdefault(f"{path}.{row}.{sub}" if sub else f"{path}.{row}", message)
        noun = "主键" if path == "keys" else "比对项"
        out.setdefault(path, f"第 {row} 行{noun}：{message}")
    return out


def _save(
    request: Request,
    db_session: DB,
    actor: Actor,
    form: dict[str, Any],
    save: Callable[[ComparisonIn], Comparison],
    done: str,
    comparison_id: int | None = None,
) -> Response:
    """The set-up form read and handed to `save`, then the comparison's page with `done` (its
    name in place of `{name}`); or the form again as typed, each error beside its field."""
    shown = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "left_resource_id": form.get("left_resource_id", ""),
        "right_resource_id": form.get("right_resource_id", ""),
        "key_authority": form.get("key_authority", ""),
        "schedule": form.get("schedule", Schedule.NONE.value),
        "active": form.get("active", "yes"),
        "keys": _rows(form, "key", KEY_ROWS, False),
        "items": _rows(form, "item", ITEM_ROWS, True),
    }
    keys, items = _filled(shown["keys"]), _filled(shown["items"])
    numbers = {"keys": [n for n, _ in keys], "items": [n for n, _ in items]}
    try:
        for field in ("left_resource_id", "right_resource_id"):
            if not shown[field].isdigit():
                raise Invalid("请选择资源", field=field)
        if shown["active"] not in ACTIVITY:
            raise Invalid("请选择“启用”或“停用”", field="active")
        data = validated(
            ComparisonIn,
            {
                "name": shown["name"],
                "description": shown["description"],
                "left_resource_id": int(shown["left_resource_id"]),
                "right_resource_id": int(shown["right_resource_id"]),
                "keys": [pair for _, pair in keys],
                "items": [pair for _, pair in items],
                "key_authority": shown["key_authority"] or None,
                "schedule": shown["schedule"],
                "active": shown["active"] == "yes",
            },
        )
        saved = save(data)
    except DomainError as exc:
        db_session.rollback()
        errors = _on_rows(field_errors(exc), numbers)
        comparison = (
            comparisons.get_comparison(db_session, actor=actor, comparison_id=comparison_id)
            if comparison_id is not None
            else None
        )
        context = _form_context(db_session, shown, errors, comparison)
        return render(request, FORM, context, exc.status)
    return redirect(f"/verification/comparisons/{saved.id}", done.format(name=saved.name))


@router.post("/verification/comparisons", response_class=HTMLResponse)
def define(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    _require_operator(actor, "定义比对")
    center = runtime_of(request).center

    def save(data: ComparisonIn) -> Comparison:
        return comparisons.define(db_session, actor=actor, center=center, data=data)

    return _save(request, db_session, actor, form, save, "已定义比对“{name}”，可立即执行比对。")


@router.get("/verification/comparisons/{comparison_id}/edit", response_class=HTMLResponse)
def edit_comparison(
    request: Request, db_session: DB, actor: PageActor, comparison_id: Id
) -> Response:
    _require_operator(actor, "修改比对")
    c = comparisons.get_comparison(db_session, actor=actor, comparison_id=comparison_id)
    return render(request, FORM, _form_context(db_session, _form_of(c), comparison=c))


@router.post("/verification/comparisons/{comparison_id}/edit", response_class=HTMLResponse)
def change(
    request: Request, db_session: DB, actor: PageActor, comparison_id: Id, form: PostedForm
) -> Response:
    _require_operator(actor, "修改比对")
    comparisons.get_comparison(db_session, actor=actor, comparison_id=comparison_id)
    center = runtime_of(request).center

    def save(data: ComparisonIn) -> Comparison:
        return comparisons.update(
            db_session, actor=actor, center=center, comparison_id=comparison_id, data=data
        )

    done = "已修改比对“{name}”，从下一次比对起生效。"
    return _save(request, db_session, actor, form, save, done, comparison_id)


# --- a comparison's page ---------------------------------------------------------------------


def _chart(runs: list[ComparisonRunRecord]) -> str:
    """The history chart's data (drawn by /static/comparison-chart.js): per run, the keys
    that are not a clean match, by kind, and the cases left open."""
    done = [r for r in runs if not r.error]
    return json.dumps(
        {
            "runs": [
                f"#{n} {clock.to_city(r.started_at):%m-%d %H:%M}" for n, r in enumerate(done, 1)
            ],
            "series": [
                {"name": "数据项不一致", "type": "bar", "data": [r.differing for r in done]},
                {"name": "仅左方有", "type": "bar", "data": [r.only_left for r in done]},
                {"name": "仅右方有", "type": "bar", "data": [r.only_right for r in done]},
                {
                    "name": "主键重复",
                    "type": "bar",
                    "data": [r.duplicate_keys_left + r.duplicate_keys_right for r in done],
                },
                {"name": "未办结事项", "type": "line", "data": [r.cases_live for r in done]},
            ],
        },
        ensure_ascii=False,
    )


def _cases(
    db_session: DB, actor: Actor, comparison_id: int, kind: str, item: str, page: int
) -> tuple[list[Mismatch], int]:
    """A page of the comparison's live cases, by kind, or by the data item that differs."""
    chosen = MismatchKind(kind) if kind in {k.value for k in MismatchKind} else None
    if item:
        chosen = MismatchKind.DIFFERS
    asked = {"comparison_id": comparison_id, "state": LIVE_STATES, "kind": chosen, "item": item}
    found = comparisons.list_mismatches(
        db_session, actor=actor, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, **asked
    )
    return found, comparisons.count_mismatches(db_session, actor=actor, **asked)


@router.get("/verification/comparisons/{comparison_id}", response_class=HTMLResponse)
def comparison_detail(
    request: Request,
    db_session: DB,
    actor: PageActor,
    comparison_id: Id,
    kind: str = "",
    item: str = "",
    page: str = "",
) -> Response:
    c = comparisons.get_comparison(db_session, actor=actor, comparison_id=comparison_id)
    runs = comparisons.history(db_session, actor=actor, comparison_id=c.id)
    number = _page_number(page)
    cases, total = _cases(db_session, actor, c.id, kind, item, number)
    return render(
        request,
        "verification/comparison.html",
        {
            "c": c,
            "run": runs[-1] if runs else None,
            "runs": list(reversed(runs)),
            "chart": _chart(runs),
            "cases": [{"m": m, "due": _due(db_session, m)} for m in cases],
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "kind": kind,
            "item": item,
            "kinds": MismatchKind.choices(),
            "operator": actor.has(Role.PLATFORM_OPERATOR),
            "colours": STATE_COLOURS,
            "labels": NORMALISER_LABELS,
        },
    )


# --- the cases -------------------------------------------------------------------------------


@router.get("/verification/mismatches", response_class=HTMLResponse)
def mismatch_list(
    request: Request,
    db_session: DB,
    actor: PageActor,
    show: str = "",
    comparison_id: str = "",
    page: str = "",
) -> Response:
    if show not in ("", *SHOWS):
        raise Invalid("请从筛选项中选择", field="show")
    chosen = show or ("open" if not actor.has(Role.PLATFORM_OPERATOR) else "all")
    compared = int(comparison_id) if comparison_id.isdigit() else None
    if compared is not None:
        comparisons.get_comparison(db_session, actor=actor, comparison_id=compared)
    counts = {
        key: comparisons.count_mismatches(
            db_session, actor=actor, comparison_id=compared, **FILTERS[key]
        )
        for key in SHOWS
    }
    number = _page_number(page)
    found = comparisons.list_mismatches(
        db_session,
        actor=actor,
        comparison_id=compared,
        offset=(number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        **FILTERS[chosen],
    )
    query = f"comparison_id={compared}&" if compared else ""
    return render(
        request,
        "verification/mismatches.html",
        {
            "rows": [{"m": m, "due": _due(db_session, m)} for m in found],
            "show": chosen,
            "shows": [(key, label, counts[key]) for key, label in SHOWS.items()],
            "query": query,
            "compared": compared,
            "page": number,
            "pages": max(1, -(-counts[chosen] // PAGE_SIZE)),
            "colours": STATE_COLOURS,
            "operator": actor.has(Role.PLATFORM_OPERATOR),
        },
    )


MISMATCH_FORMS = ("answer", "mediation")


def _mismatch_context(
    db_session: DB,
    actor: Actor,
    mismatch_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    m = comparisons.get_mismatch(db_session, actor=actor, mismatch_id=mismatch_id)
    shown, forms = form_states(MISMATCH_FORMS, failed, form, errors)
    c = m.comparison
    return {
        "m": m,
        "c": c,
        "due": _due(db_session, m),
        "allowed": {
            "answer": m.state == MismatchState.OPEN
            and actor.organization_id == m.department_id
            and actor.has(*ANSWERERS),
            "mediation": not m.state.closed and actor.has(Role.PLATFORM_OPERATOR),
        },
        "authority": {i["name"]: Side(i["authority"]) for i in c.items},
        "errors": shown,
        "forms": forms,
        "colours": STATE_COLOURS,
        "accept": documents.ACCEPT,
    }


@router.get("/verification/mismatches/{mismatch_id}", response_class=HTMLResponse)
def mismatch_detail(
    request: Request, db_session: DB, actor: PageActor, mismatch_id: Id
) -> Response:
    context = _mismatch_context(db_session, actor, mismatch_id)
    return render(request, "verification/mismatch.html", context)


def _act(
    request: Request,
    db_session: DB,
    actor: Actor,
    mismatch_id: int,
    which: str,
    form: dict[str, Any],
    step: Callable[[], str],
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _mismatch_context(db_session, actor, mismatch_id, which, form, errors)
        return render(request, "verification/mismatch.html", context, status)

    return attempt(db_session, step, done=comparisons.LINK.format(id=mismatch_id), again=again)


@router.post("/verification/mismatches/{mismatch_id}/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    db_session: DB,
    actor: PageActor,
    mismatch_id: Id,
    form: PostedForm,
    attached: PostedDocuments,
) -> Response:
    def step() -> str:
        choice = form.get("corrected", "")
        if choice not in ("yes", "no"):
            raise Invalid("请选择“已在源头更正”或“有异议，附证据”", field="corrected")
        data = validated(
            CaseAnswerIn,
            {
                "corrected": choice == "yes",
                "answer": form.get("answer", ""),
                "evidence": form.get("evidence", ""),
            },
        )
        done = comparisons.answer_case(
            db_session, actor=actor, mismatch_id=mismatch_id, data=data, documents=attached
        )
        return f"已答复：{done.state.label}。"

    return _act(request, db_session, actor, mismatch_id, "answer", dict(form), step)


@router.post("/verification/mismatches/{mismatch_id}/mediation", response_class=HTMLResponse)
def mediate(
    request: Request, db_session: DB, actor: PageActor, mismatch_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        outcome = form.get("outcome", "")
        if outcome not in ("settle", "reopen"):
            raise Invalid("请选择“办结”或“退回部门重新处理”", field="outcome")
        data = validated(MediationIn, {"outcome": outcome, "note": form.get("note", "")})
        done = comparisons.mediate(
            db_session,
            actor=actor,
            profile=runtime_of(request).profile,
            mismatch_id=mismatch_id,
            data=data,
        )
        return f"已协调：{done.state.label}。"

    return _act(request, db_session, actor, mismatch_id, "mediation", dict(form), step)
