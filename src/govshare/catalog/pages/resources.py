"""Catalog pages: the department's own catalog, the compile form (with the duplicate warning),
resource and version pages, the diff between versions, the operator's review queue,
retirement and subscription."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.catalog.models import (
    CatalogKind,
    DataType,
    Domain,
    OpenType,
    Resource,
    ResourceFormat,
    ResourceStatus,
    ShareMethod,
    ShareType,
    UpdateFrequency,
    VersionState,
)
from govshare.catalog.schemas import ResourceIn, RetirementIn, ReviewIn, VersionIn
from govshare.catalog.service import (
    common,
    contents,
    diffs,
    overview,
    resources,
    retirements,
    subscriptions,
    themes,
)
from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.inputs import Id, Number
from govshare.core.permissions import Actor, Role
from govshare.core.policy import VALUE_LABELS, Rules
from govshare.exchange.pages.overview import access_panel_context
from govshare.identity import service as identity_service
from govshare.sharing.models import USE_RESTRICTIONS, GrantState
from govshare.sharing.service import freshness
from govshare.sharing.service import grants as sharing_grants
from govshare.systems import service as systems_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors
from govshare.web.templating import redirect, render

router = APIRouter()

MULTI = (
    "share_methods",
    "item_name",
    "item_type",
    "item_length",
    "item_description",
    "item_personal",
)


def _rules(request: Request) -> Rules:
    return runtime_of(request).profile.rules


async def _resource_form(request: Request) -> dict[str, Any]:
    """The posted compile form: single fields as strings, item rows as a list of dicts."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v.strip() for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key in MULTI else (values[0] if values else "")
    data.pop("csrf_token", None)
    names = data.pop("item_name", [])
    columns = [data.pop(k, []) for k in MULTI[2:]]
    items = []
    for i, name in enumerate(names):
        kind, length, description, personal = (c[i] if i < len(c) else "" for c in columns)
        if name or length or description:
            items.append(
                {
                    "name": name,
                    "data_type": kind or "C",
                    "length": length or None,
                    "description": description,
                    "personal": personal == "1",
                }
            )
    data["items"] = items
    data["related_codes"] = [
        c for c in data.get("related_codes", "").replace("，", ",").split(",") if c.strip()
    ]
    data.setdefault("share_methods", [])
    return data


def _input(model: type[VersionIn], data: dict[str, Any]) -> VersionIn:
    cleaned = {k: v for k, v in data.items() if v not in ("", None) or k in ("items",)}
    return model.model_validate(cleaned)


def _form_context(
    request: Request, db_session: DB, actor: Actor, form: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    rules = _rules(request)
    is_operator = actor.has(Role.PLATFORM_OPERATOR)
    return {
        "form": form,
        "errors": extra.pop("errors", {}),
        "kinds": list(CatalogKind),
        "formats": list(ResourceFormat),
        "share_types": list(ShareType),
        "share_methods": list(ShareMethod),
        "frequencies": list(UpdateFrequency),
        "open_types": list(OpenType),
        "domains": list(Domain),
        "data_types": list(DataType),
        "base_topics": [
            (t.value, VALUE_LABELS.get(t.value, t.value)) for t in rules.accepted_base_topics()
        ],
        "themes": [t for t, _ in themes.list_themes(db_session, actor=actor)],
        "providers": identity_service.list_organizations(db_session, actor=actor)
        if is_operator
        else [],
        "is_operator": is_operator,
        **extra,
    }


def _version_form(version: Any) -> dict[str, Any]:
    data = contents.version_input(version)
    data["items"] = [
        {
            **i,
            "data_type": i["data_type"].value
            if hasattr(i["data_type"], "value")
            else i["data_type"],
        }
        for i in data["items"]
    ]
    data["related_codes"] = data["related_codes"]
    for key in ("format", "share_type", "update_frequency", "open_type", "domain"):
        data[key] = data[key].value
    return data


# --- own catalog --------------------------------------------------------------------------


@router.get("/catalog/mine", response_class=HTMLResponse)
def mine(
    request: Request, db_session: DB, actor: PageActor, organization_id: Id | None = None
) -> Response:
    rows = overview.department_resources(db_session, actor=actor, organization_id=organization_id)
    subs = (
        subscriptions.my_subscriptions(db_session, actor=actor)
        if actor.has(*subscriptions.SUBSCRIBERS) and actor.organization_id
        else []
    )
    counts = subscriptions.subscriber_counts(db_session, [r.resource.id for r in rows])
    fresh = freshness.freshness_of(db_session, resource_ids=[r.resource.id for r in rows])
    states: dict[str, int] = {}
    for row in rows:
        states[row.latest.state.label] = states.get(row.latest.state.label, 0) + 1
    return render(
        request,
        "catalog/mine.html",
        {
            "rows": rows,
            "subscriptions": subs,
            "counts": counts,
            "states": states,
            "freshness": fresh,
        },
    )


# --- compile --------------------------------------------------------------------------------


@router.get("/catalog/new", response_class=HTMLResponse)
def new(request: Request, db_session: DB, actor: PageActor) -> Response:
    form = {
        "catalog_kind": "department",
        "item_code": "01",
        "group_code": "001",
        "share_type": "unconditional",
        "share_methods": ["table"],
        "open_type": "not_open",
        "update_frequency": "monthly",
        "items": [],
    }
    return render(
        request, "catalog/form.html", _form_context(request, db_session, actor, form, mode="new")
    )


@router.post("/catalog/new", response_class=HTMLResponse)
async def create(request: Request, db_session: DB, actor: PageActor) -> Response:
    form = await _resource_form(request)
    try:
        resource = resources.create_resource(
            db_session, actor=actor, data=_input(ResourceIn, form), rules=_rules(request)
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _form_context(
            request, db_session, actor, form, mode="new", errors=field_errors(exc)
        )
        return render(request, "catalog/form.html", context, 422)
    return redirect(f"/catalog/resources/{resource.id}", f"已保存草稿，资源代码 {resource.code}")


@router.get("/catalog/resources/{resource_id}/versions/{number}/edit", response_class=HTMLResponse)
def edit(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, number: Number
) -> Response:
    version = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    context = _form_context(
        request, db_session, actor, _version_form(version), mode="edit", version=version
    )
    return render(request, "catalog/form.html", context)


@router.post("/catalog/resources/{resource_id}/versions/{number}/edit", response_class=HTMLResponse)
async def save(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, number: Number
) -> Response:
    form = await _resource_form(request)
    version = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    try:
        resources.update_draft(
            db_session,
            actor=actor,
            version_id=version.id,
            data=_input(VersionIn, form),
            rules=_rules(request),
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        version = resources.get_version(
            db_session, actor=actor, resource_id=resource_id, number=number
        )
        context = _form_context(
            request, db_session, actor, form, mode="edit", version=version, errors=field_errors(exc)
        )
        return render(request, "catalog/form.html", context, 422)
    return redirect(f"/catalog/resources/{resource_id}/versions/{number}", "草稿已保存")


@router.post("/catalog/duplicates", response_class=HTMLResponse)
async def duplicates(request: Request, db_session: DB, actor: PageActor) -> Response:
    """The duplicate-collection warning (CAT-7), refreshed as item names are typed."""
    form = await request.form()
    names = [v for v in form.getlist("item_name") if isinstance(v, str) and v.strip()]
    provider = form.get("provider_id")
    provider_id = int(provider) if isinstance(provider, str) and provider.isdigit() else None
    matches = overview.find_duplicates(
        db_session, actor=actor, item_names=names, provider_id=provider_id
    )
    return render(request, "catalog/_duplicates.html", {"matches": matches})


# --- resource and versions ------------------------------------------------------------------


def _sharing_panel(db_session: DB, actor: Actor, resource: Resource) -> dict[str, Any] | None:
    """The "共享使用" panel for another department's people: direct access, an application or
    coordination by share type (SHR-1/2/4), or the grant their department already holds."""
    version = resource.current_version
    if (
        resource.status is not ResourceStatus.PUBLISHED
        or version is None
        or not actor.has(*common.COMPILERS)
        or actor.organization_id in (None, resource.provider_id)
    ):
        return None
    held = next(
        (
            g
            for g in sharing_grants.my_grants(db_session, actor=actor)
            if g.resource_id == resource.id and g.state is not GrantState.ENDED
        ),
        None,
    )
    return {
        "share_type": version.share_type.value,
        "grant": held,
        "status": sharing_grants.status_label(held, clock.today()) if held else "",
        "restrictions": USE_RESTRICTIONS,
        "systems": systems_service.choices(
            db_session, actor=actor, organization_id=actor.organization_id
        )
        if version.share_type is ShareType.UNCONDITIONAL and held is None
        else [],
        "form": {},
        "errors": {},
    }


def resource_context(
    db_session: DB, actor: Actor, resource_id: int, number: int | None
) -> dict[str, Any]:
    """What the resource page shows this actor (the sharing pages re-show it with errors)."""
    resource = resources.get_resource(db_session, actor=actor, resource_id=resource_id)
    versions = resources.list_versions(db_session, actor=actor, resource_id=resource_id)
    if number is not None:
        shown = resources.get_version(
            db_session, actor=actor, resource_id=resource_id, number=number
        )
    else:
        shown = resource.current_version or versions[0]
    working = resources.working_version(db_session, actor=actor, resource_id=resource_id)
    scheduled = next((v for v in versions if v.state is VersionState.SCHEDULED), None)
    own = common.can_see_unpublished(actor, resource)
    published_numbers = [v.number for v in versions if v.state in common.VISIBLE_TO_ALL]
    return {
        "resource": resource,
        "shown": shown,
        "versions": versions,
        "working": working,
        "scheduled": scheduled,
        "can_compile": own,
        "can_submit": common.may_submit(actor, resource),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "can_subscribe": actor.has(*subscriptions.SUBSCRIBERS)
        and actor.organization_id not in (None, resource.provider_id)
        and resource.status is ResourceStatus.PUBLISHED,
        "subscribed": subscriptions.is_subscribed(db_session, actor=actor, resource_id=resource.id),
        "subscribers": subscriptions.subscribers(db_session, actor=actor, resource_id=resource.id)
        if actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY)
        or actor.organization_id == resource.provider_id
        else [],
        "diff_choices": sorted(published_numbers or [v.number for v in versions]),
        "fields": contents.VERSION_FIELDS,
        "display": diffs.display,
        "topic_label": VALUE_LABELS.get(resource.base_topic or "", resource.base_topic),
        "sharing": _sharing_panel(db_session, actor, resource),
        "access": access_panel_context(db_session, actor, resource),
        "freshness": freshness.freshness_of(db_session, resource_ids=[resource.id]).get(
            resource.id
        ),
    }


@router.get("/catalog/resources/{resource_id}", response_class=HTMLResponse)
def resource_page(request: Request, db_session: DB, actor: PageActor, resource_id: Id) -> Response:
    return render(
        request, "catalog/resource.html", resource_context(db_session, actor, resource_id, None)
    )


@router.get("/catalog/resources/{resource_id}/versions/{number}", response_class=HTMLResponse)
def version_page(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, number: Number
) -> Response:
    return render(
        request, "catalog/resource.html", resource_context(db_session, actor, resource_id, number)
    )


@router.get("/catalog/code/{code:path}")
def by_code(db_session: DB, actor: PageActor, code: str) -> Response:
    resource = resources.get_resource_by_code(db_session, actor=actor, code=code)
    return redirect(f"/catalog/resources/{resource.id}")


@router.get("/catalog/resources/{resource_id}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, a: Number, b: Number
) -> Response:
    found = diffs.diff_versions(db_session, actor=actor, resource_id=resource_id, a=a, b=b)
    versions = resources.list_versions(db_session, actor=actor, resource_id=resource_id)
    return render(
        request, "catalog/diff.html", {"diff": found, "versions": versions, "a": a, "b": b}
    )


def _act(db_session: DB, target: str, done: str, call: Any) -> Response:
    """Runs one action; a refusal comes back to the same page as a message."""
    try:
        call()
    except DomainError as exc:
        db_session.rollback()
        return redirect(target, f"未能办理：{exc.message}")
    return redirect(target, done)


@router.post("/catalog/resources/{resource_id}/revise")
def revise(db_session: DB, actor: PageActor, resource_id: Id) -> Response:
    try:
        version = resources.start_revision(db_session, actor=actor, resource_id=resource_id)
    except DomainError as exc:
        db_session.rollback()
        return redirect(f"/catalog/resources/{resource_id}", f"未能新建版本：{exc.message}")
    return redirect(
        f"/catalog/resources/{resource_id}/versions/{version.number}/edit",
        f"已新建第 {version.number} 版草稿，修改后提交审核",
    )


@router.post("/catalog/resources/{resource_id}/versions/{number}/submit")
def submit(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, number: Number
) -> Response:
    version = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    target = f"/catalog/resources/{resource_id}/versions/{number}"
    return _act(
        db_session,
        target,
        "已提交平台管理单位审核",
        lambda: resources.submit_version(
            db_session, actor=actor, version_id=version.id, rules=_rules(request)
        ),
    )


@router.post("/catalog/resources/{resource_id}/versions/{number}/withdraw")
def withdraw(
    db_session: DB, actor: PageActor, resource_id: Id, number: Number, form: PostedForm
) -> Response:
    version = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    return _act(
        db_session,
        f"/catalog/resources/{resource_id}",
        f"第 {number} 版已撤回",
        lambda: resources.withdraw_version(
            db_session, actor=actor, version_id=version.id, reason=form.get("reason", "")
        ),
    )


@router.post("/catalog/resources/{resource_id}/versions/{number}/review")
def review(
    request: Request,
    db_session: DB,
    actor: PageActor,
    resource_id: Id,
    number: Number,
    form: PostedForm,
) -> Response:
    version = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    approve = form.get("decision") == "approve"
    decision = ReviewIn(approve=approve, comment=form.get("comment", ""))
    try:
        resources.review_version(
            db_session, actor=actor, version_id=version.id, decision=decision, rules=_rules(request)
        )
    except DomainError as exc:
        db_session.rollback()
        return redirect(f"/catalog/review#v{version.id}", f"未能办理：{exc.message}")
    if not approve:
        return redirect("/catalog/review", f"已退回：{version.name}")
    if version.state is VersionState.SCHEDULED:
        return redirect(
            "/catalog/review",
            f"已通过：{version.name}，将于 {version.effective_on} 生效并已通知使用部门和订阅部门",
        )
    return redirect("/catalog/review", f"已通过并发布：{version.name}")


@router.post("/catalog/resources/{resource_id}/retire")
def retire(db_session: DB, actor: PageActor, resource_id: Id, form: PostedForm) -> Response:
    target = f"/catalog/resources/{resource_id}"
    try:
        data = RetirementIn.model_validate({k: v for k, v in form.items() if v})
    except ValidationError as exc:
        return redirect(target, "未能申请下架：" + "；".join(field_errors(exc).values()))
    return _act(
        db_session,
        target,
        "下架申请已提交平台管理单位审核",
        lambda: retirements.request_retirement(
            db_session, actor=actor, resource_id=resource_id, data=data
        ),
    )


@router.post("/catalog/resources/{resource_id}/retirement/review")
def review_retirement(
    request: Request, db_session: DB, actor: PageActor, resource_id: Id, form: PostedForm
) -> Response:
    decision = ReviewIn(approve=form.get("decision") == "approve", comment=form.get("comment", ""))
    return _act(
        db_session,
        "/catalog/review",
        "下架申请已办理",
        lambda: retirements.review_retirement(
            db_session,
            actor=actor,
            resource_id=resource_id,
            decision=decision,
            rules=_rules(request),
        ),
    )


@router.post("/catalog/resources/{resource_id}/subscribe")
def subscribe(db_session: DB, actor: PageActor, resource_id: Id) -> Response:
    return _act(
        db_session,
        f"/catalog/resources/{resource_id}",
        "已订阅：该资源的变更和下架将通知本单位",
        lambda: subscriptions.subscribe(db_session, actor=actor, resource_id=resource_id),
    )


@router.post("/catalog/resources/{resource_id}/unsubscribe")
def unsubscribe(db_session: DB, actor: PageActor, resource_id: Id) -> Response:
    return _act(
        db_session,
        f"/catalog/resources/{resource_id}",
        "已取消订阅",
        lambda: subscriptions.unsubscribe(db_session, actor=actor, resource_id=resource_id),
    )


# --- review ---------------------------------------------------------------------------------


@router.get("/catalog/review", response_class=HTMLResponse)
def review_queue(request: Request, db_session: DB, actor: PageActor) -> Response:
    queue = overview.review_queue(db_session, actor=actor)
    previous = {
        v.id: v.resource.current_version.number
        for v in queue.versions
        if v.resource.current_version is not None
    }
    return render(
        request,
        "catalog/review.html",
        {
            "queue": queue,
            "previous": previous,
            "is_operator": actor.has(Role.PLATFORM_OPERATOR),
            "notice_months": _rules(request).catalog_change_notice_months.value,
        },
    )
