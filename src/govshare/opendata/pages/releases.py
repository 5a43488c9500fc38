"""Open-data pages (资源开放, OPN-3, SR§20): the releases a person may see with the resources
their department may still open, the provider's open-view form (开放范围) over the current
catalog version, and a release's page — its secrecy review (保密审查), submission, the
operator's confirmation or return, withdrawal, and where it stands on the public portal.

The row-filter inputs and their parsing are the sharing pages' (`sharing/_scope_macros.html`,
`sharing.pages.cases.read_scope_form` and `parse_scope`), so a condition reads and fails the
same way on a grant and on an open view. A confirmation or withdrawal publishes to the portal
at once, in the request's transaction, as the JSON API does."""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.routing import Mount

from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Code, Id
from govshare.core.permissions import Actor, Role
from govshare.opendata import api, publishing, service
from govshare.opendata.models import OpenRelease, ReleaseState, SecrecyOutcome
from govshare.opendata.schemas import (
    TAGS_MAX,
    OpenViewIn,
    ReleaseDecisionIn,
    SecrecyReviewIn,
    WithdrawalIn,
)
from govshare.portal.settings import PortalSettings
from govshare.sharing.pages.applications import typed_filters
from govshare.sharing.pages.cases import parse_scope, read_scope_form
from govshare.sharing.pages.common import placed
from govshare.sharing.pages.scope import CHOICES, split_values
from govshare.sharing.service.common import load_filter, load_masking
from govshare.web.deps import DB, PageActor
from govshare.web.forms import PostedForm, field_errors, message_of
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

VIEW_FIELDS = ("fields", "row_filter", "masking", "tags")
FORMS = ("review", "submit", "decision", "withdraw")


def _link(release: OpenRelease) -> str:
    return f"/opendata/releases/{release.id}"


def _checked(model: type[M], data: dict[str, Any], whole: str) -> M:
    """The model, or an `Invalid` with every broken rule keyed to its input (a rule on the
    whole model to `whole`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        rows = [
            {
                "field": ".".join(str(p) for p in error["loc"][:1]) or whole,
                # an input left empty is "required", whatever its least length
                "message": "必填"
                if error["type"] == "string_too_short" and not error.get("input")
                else message_of(error),
            }
            for error in exc.errors()
        ]
        raise Invalid(rows[0]["message"], field=rows[0]["field"], errors=rows) from None


# --- the public portal ------------------------------------------------------------------


def portal_address(request: Request) -> str | None:
    """Where the public portal answers, when this application knows: the portal mounted
    beside the platform (the demo's /open), at its configured public address if it has one.
    None when the portal runs elsewhere unannounced: the pages then show no link."""
    for route in request.app.routes:
        settings = getattr(getattr(getattr(route, "app", None), "state", None), "settings", None)
        if isinstance(route, Mount) and isinstance(settings, PortalSettings):
            return settings.base_url.rstrip("/") or route.path
    return None


def dataset_url(request: Request, release: OpenRelease) -> str | None:
    """The released dataset's page on the public portal, once it is there."""
    base = portal_address(request)
    if base is None or release.state is not ReleaseState.OPEN or release.published_at is None:
        return None
    return f"{base}/dataset/{publishing.slug(release.resource.code)}"


# --- the list ---------------------------------------------------------------------------


def _state(value: str) -> ReleaseState | None:
    if not value:
        return None
    try:
        return ReleaseState(value)
    except ValueError:
        raise Invalid("请从列表中选择状态", field="state") from None


@router.get("/opendata", response_class=HTMLResponse)
def release_list(request: Request, db_session: DB, actor: PageActor, state: str = "") -> Response:
    chosen = _state(state)
    every = service.list_releases(db_session, actor=actor)
    counts = Counter(r.state for r in every)
    rows = [r for r in every if chosen is None or r.state is chosen]
    operator = actor.has(Role.PLATFORM_OPERATOR)
    if operator:  # what waits for the operator comes first (stable: newest first within)
        rows.sort(key=lambda r: r.state is not ReleaseState.SUBMITTED)
    return render(
        request,
        "opendata/list.html",
        {
            "rows": rows,
            "state": chosen,
            "states": [(s, counts.get(s, 0)) for s in ReleaseState],
            "total": len(every),
            "waiting": counts.get(ReleaseState.SUBMITTED, 0) if operator else 0,
            "provider": actor.has(*service.PROVIDERS),
            "openable": service.openable_resources(db_session, actor=actor),
            "department": actor.organization_id,
        },
    )


# --- the open-view form -----------------------------------------------------------------


def _form_of(release: OpenRelease | None) -> dict[str, Any]:
    """A stored open view as the form shows it (empty for a first one)."""
    if release is None:
        return {"fields": [], "filters": [], "masks": {}, "tags": ""}
    return {
        "fields": list(release.fields),
        "filters": typed_filters(release.row_filter),
        "masks": {
            m["field"]: {"rule": m["rule"], "n": str(m.get("n") or "")} for m in release.masking
        },
        "tags": "，".join(release.tags),
    }


def _view_in(form: dict[str, Any]) -> OpenViewIn:
    """The open view the form describes; every input's error at once, keyed as the form
    shows them (`fields`, `row_filter.N`, `masking.<item>`, `tags`)."""
    chosen = form["fields"]
    # A rule left on an item that is not opened has nothing to mask: it is kept on the form
    # as typed but neither checked nor sent.
    scope = form | {"masks": {k: v for k, v in form["masks"].items() if k in chosen}}
    problems: list[dict[str, str]] = []
    conditions: list[Any] = []
    masks: list[Any] = []
    try:
        conditions, masks = parse_scope(scope)
    except Invalid as exc:
        problems += exc.extra["errors"]  # type: ignore[operator]
    if not chosen:
        problems.append({"field": "fields", "message": "请至少勾选一个要开放的信息项"})
    tags = split_values(form.get("tags", ""))
    if len(tags) > TAGS_MAX:
        problems.append({"field": "tags", "message": f"标签最多 {TAGS_MAX} 个"})
    if problems:
        raise Invalid(problems[0]["message"], field=problems[0]["field"], errors=problems)
    return _checked(
        OpenViewIn,
        {"fields": chosen, "row_filter": conditions, "masking": masks, "tags": tags},
        whole="masking",
    )


def _form_context(
    found: service.Openable, form: dict[str, Any], errors: dict[str, str], summary: str = ""
) -> dict[str, Any]:
    version = found.resource.current_version
    assert version is not None  # an openable resource is published
    if any(key.startswith("masking.") for key in errors):  # said beside each item already
        errors = {k: v for k, v in errors.items() if k != "masking"}
    return {
        "resource": found.resource,
        "version": version,
        "items": version.items,
        "pending": found.pending,
        "open": found.open,
        "choices": CHOICES,
        "tags_max": TAGS_MAX,
        "form": form,
        "errors": placed(errors, VIEW_FIELDS),
        "summary": summary,  # the first refusal, shown above the form as well
    }


@router.get("/opendata/resources/{resource_code:path}/open-view", response_class=HTMLResponse)
def view_form(request: Request, db_session: DB, actor: PageActor, resource_code: Code) -> Response:
    found = service.get_openable(db_session, actor=actor, resource_code=resource_code)
    form = _form_of(found.pending or found.open)
    return render(request, "opendata/view_form.html", _form_context(found, form, {}))


@router.post("/opendata/resources/{resource_code:path}/open-view", response_class=HTMLResponse)
async def define_view(
    request: Request, db_session: DB, actor: PageActor, resource_code: Code
) -> Response:
    form = await read_scope_form(request)
    try:
        release = service.define_view(
            db_session, actor=actor, resource_code=resource_code, data=_view_in(form)
        )
    except DomainError as exc:
        db_session.rollback()
        found = service.get_openable(db_session, actor=actor, resource_code=resource_code)
        context = _form_context(found, form, field_errors(exc), exc.message)
        return render(request, "opendata/view_form.html", context, exc.status)
    return redirect(_link(release), "开放范围已保存。下一步：登记保密审查")


# --- a release ----------------------------------------------------------------------------


def _review_defaults(release: OpenRelease) -> dict[str, str]:
    return {
        "reviewer": release.secrecy_reviewer or "",
        "reviewed_on": (release.secrecy_reviewed_on or clock.today()).isoformat(),
        "basis": release.secrecy_basis or "",
        "outcome": release.secrecy_outcome.value if release.secrecy_outcome else "",
    }


def _history(release: OpenRelease) -> list[tuple[Any, str, str]]:
    """The release's way so far, oldest first: (when, what, who)."""
    r = release
    rows = [(r.created_at, "定义开放范围", r.created_by)]
    if r.submitted_at:
        rows.append((r.submitted_at, "提交平台确认", r.submitted_by or ""))
    if r.decided_at:
        # A confirmation ends the way (open, later perhaps withdrawn, and published); a
        # return leaves the release to be changed and submitted again.
        confirmed = r.state is ReleaseState.OPEN or (
            r.state is ReleaseState.WITHDRAWN and r.published_at is not None
        )
        what = "确认开放" if confirmed else "退回"
        comment = f"：{r.decision_comment}" if r.decision_comment else ""
        rows.append((r.decided_at, what + comment, r.decided_by or ""))
    if r.published_at:
        count = f"（{r.published_rows} 行）" if r.published_rows is not None else ""
        rows.append((r.published_at, f"最近一次发布到开放门户{count}", "平台"))
    if r.withdrawn_at:
        rows.append((r.withdrawn_at, f"撤回：{r.withdrawal_reason}", r.withdrawn_by or ""))
    return sorted(rows, key=lambda row: row[0])


def _detail_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    release_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    release = service.get_release(db_session, actor=actor, release_id=release_id)
    version = release.resource.current_version
    items = {item.name: item for item in version.items} if version else {}
    masks = {m.field: m for m in load_masking(release.masking)}
    forms: dict[str, dict[str, Any]] = {name: {} for name in FORMS}
    forms["review"] = _review_defaults(release)
    shown: dict[str, dict[str, str]] = {name: {} for name in FORMS}
    if failed:
        forms[failed] = form or {}
        shown[failed] = errors or {}
    allowed = service.permitted(actor, release)
    offered = {
        "review": allowed.review,
        "submit": allowed.submit,
        "decision": allowed.decide,
        "withdraw": allowed.withdraw,
    }
    # An error whose form is no longer offered (the release moved on meanwhile) goes on top.
    top = next(iter(shown[failed].values()), "") if failed and not offered[failed] else ""
    return {
        "release": release,
        "resource": release.resource,
        "version": version,
        "stale": version is not None
        and version.id != release.version_id
        and release.state is not ReleaseState.WITHDRAWN,
        "opened": [
            {
                "name": name,
                "item": items.get(name),
                "mask": masks[name].describe().removeprefix(f"{name}：") if name in masks else "",
            }
            for name in release.fields
        ],
        "conditions": [c.describe() for c in load_filter(release.row_filter)],
        "history": _history(release),
        "allowed": allowed,
        "outcomes": SecrecyOutcome.choices(),
        "today": clock.today().isoformat(),
        "forms": forms,
        "errors": shown,
        "top_error": top,
        "dataset_url": dataset_url(request, release),
    }


@router.get("/opendata/releases/{release_id}", response_class=HTMLResponse)
def release_detail(request: Request, db_session: DB, actor: PageActor, release_id: Id) -> Response:
    context = _detail_context(request, db_session, actor, release_id)
    return render(request, "opendata/release.html", context)


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    release_id: int,
    which: str,
    exc: DomainError,
    form: dict[str, Any],
    known: tuple[str, ...],
) -> Response:
    """The release page again, the failed form as typed and its errors beside the inputs."""
    db_session.rollback()
    errors = placed(field_errors(exc), known)
    context = _detail_context(request, db_session, actor, release_id, which, form, errors)
    return render(request, "opendata/release.html", context, exc.status)


@router.post("/opendata/releases/{release_id}/secrecy-review", response_class=HTMLResponse)
def secrecy_review(
    request: Request, db_session: DB, actor: PageActor, release_id: Id, form: PostedForm
) -> Response:
    known = ("reviewer", "reviewed_on", "basis", "outcome")
    try:
        if not form.get("outcome"):
            raise Invalid("请选择审查结论", field="outcome")
        data = _checked(SecrecyReviewIn, {k: form.get(k, "") for k in known}, whole="basis")
        release = service.record_secrecy_review(
            db_session, actor=actor, release_id=release_id, data=data
        )
    except DomainError as exc:
        return _failed(request, db_session, actor, release_id, "review", exc, form, known)
    if release.secrecy_outcome is SecrecyOutcome.PASSED:
        return redirect(_link(release), "保密审查已登记：通过。下一步：提交平台确认")
    return redirect(_link(release), "保密审查已登记：未通过，该开放范围不能提交开放")


@router.post("/opendata/releases/{release_id}/submit", response_class=HTMLResponse)
def submit(
    request: Request, db_session: DB, actor: PageActor, release_id: Id, form: PostedForm
) -> Response:
    try:
        release = service.submit(db_session, actor=actor, release_id=release_id)
    except DomainError as exc:
        return _failed(request, db_session, actor, release_id, "submit", exc, form, ())
    return redirect(_link(release), "已提交平台确认")


def _published(release: OpenRelease, report: publishing.PublishReport) -> str:
    """The confirmation's message: what the portal now holds."""
    code = release.resource.code
    problem = next((p for p in report.problems if p.startswith(f"{code}: ")), None)
    if problem is not None:
        reason = problem.removeprefix(f"{code}: ")
        return f"已确认开放，但发布到开放门户未成功：{reason}。平台将在下次定时发布时重试"
    if release.published_rows is None:
        return "已确认开放，已发布到开放门户（目录信息，无数据行）"
    return f"已确认开放，已发布到开放门户：{release.published_rows} 行数据"


@router.post("/opendata/releases/{release_id}/decision", response_class=HTMLResponse)
def decide(
    request: Request, db_session: DB, actor: PageActor, release_id: Id, form: PostedForm
) -> Response:
    choice = form.get("decision", "")
    try:
        if choice not in ("approve", "return"):
            raise Invalid("请选择“确认开放”或“退回”", field="decision")
        data = _checked(
            ReleaseDecisionIn,
            {"approve": choice == "approve", "comment": form.get("comment", "")},
            whole="comment",
        )
        release = service.decide(db_session, actor=actor, release_id=release_id, data=data)
    except DomainError as exc:
        known = ("decision", "comment")
        return _failed(request, db_session, actor, release_id, "decision", exc, form, known)
    if release.state is ReleaseState.OPEN:
        return redirect(_link(release), _published(release, api.publish_now(request, db_session)))
    return redirect(_link(release), "已退回提供部门，退回理由已通知对方")


@router.post("/opendata/releases/{release_id}/withdrawal", response_class=HTMLResponse)
def withdraw(
    request: Request, db_session: DB, actor: PageActor, release_id: Id, form: PostedForm
) -> Response:
    try:
        data = _checked(WithdrawalIn, {"reason": form.get("reason", "")}, whole="reason")
        release = service.withdraw(db_session, actor=actor, release_id=release_id, data=data)
    except DomainError as exc:
        return _failed(request, db_session, actor, release_id, "withdraw", exc, form, ("reason",))
    report = api.publish_now(request, db_session)
    if release.resource.code in report.removed:
        return redirect(_link(release), "已撤回，数据集已从开放门户撤下")
    return redirect(_link(release), "已撤回")
