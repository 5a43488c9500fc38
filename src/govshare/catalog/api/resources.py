"""Catalog API: compile, review, publish, version, retire, subscribe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from govshare.catalog.schemas import (
    ResourceIn,
    ResourceOut,
    RetirementIn,
    ReviewIn,
    VersionIn,
    VersionOut,
)
from govshare.catalog.service import diffs, overview, resources, retirements, subscriptions
from govshare.core.inputs import Id, Number
from govshare.core.policy import Rules
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/catalog", tags=["资源目录"])


def _rules(request: Request) -> Rules:
    return runtime_of(request).profile.rules


def _out(resource: resources.Resource) -> ResourceOut:
    return ResourceOut.model_validate(resource)


class CreatedOut(BaseModel):
    resource: ResourceOut
    version: VersionOut


@router.post("/resources", status_code=201, summary="编制资源目录（新建草稿）")
def create(request: Request, db_session: DB, actor: SignedIn, data: ResourceIn) -> CreatedOut:
    resource = resources.create_resource(db_session, actor=actor, data=data, rules=_rules(request))
    (version,) = resources.list_versions(db_session, actor=actor, resource_id=resource.id)
    return CreatedOut(resource=_out(resource), version=VersionOut.model_validate(version))


@router.get("/resources/{resource_id}", summary="资源详情")
def get(db_session: DB, actor: SignedIn, resource_id: Id) -> ResourceOut:
    return _out(resources.get_resource(db_session, actor=actor, resource_id=resource_id))


@router.get("/resources/by-code/{code:path}", summary="按资源代码查询")
def by_code(db_session: DB, actor: SignedIn, code: str) -> ResourceOut:
    return _out(resources.get_resource_by_code(db_session, actor=actor, code=code))


@router.get("/resources/{resource_id}/versions", summary="资源的各个版本")
def versions(db_session: DB, actor: SignedIn, resource_id: Id) -> list[VersionOut]:
    rows = resources.list_versions(db_session, actor=actor, resource_id=resource_id)
    return [VersionOut.model_validate(v) for v in rows]


@router.get("/resources/{resource_id}/versions/{number}", summary="资源的某一版本")
def version(db_session: DB, actor: SignedIn, resource_id: Id, number: Number) -> VersionOut:
    found = resources.get_version(db_session, actor=actor, resource_id=resource_id, number=number)
    return VersionOut.model_validate(found)


class FieldChangeOut(BaseModel):
    field: str
    label: str
    before: str
    after: str


class ItemChangeOut(BaseModel):
    name: str
    kind: str
    details: list[FieldChangeOut]


class DiffOut(BaseModel):
    code: str
    a: int
    b: int
    fields: list[FieldChangeOut]
    items: list[ItemChangeOut]


@router.get("/resources/{resource_id}/diff", summary="两个版本逐字段比较")
def diff(db_session: DB, actor: SignedIn, resource_id: Id, a: Number, b: Number) -> DiffOut:
    found = diffs.diff_versions(db_session, actor=actor, resource_id=resource_id, a=a, b=b)
    return DiffOut(
        code=found.resource.code,
        a=a,
        b=b,
        fields=[FieldChangeOut(**vars(c)) for c in found.fields],
        items=[
            ItemChangeOut(
                name=i.name, kind=i.kind, details=[FieldChangeOut(**vars(c)) for c in i.details]
            )
            for i in found.items
        ],
    )


@router.put("/versions/{version_id}", summary="修改草稿或被退回的版本")
def update(
    request: Request, db_session: DB, actor: SignedIn, version_id: Id, data: VersionIn
) -> VersionOut:
    found = resources.update_draft(
        db_session, actor=actor, version_id=version_id, data=data, rules=_rules(request)
    )
    return VersionOut.model_validate(found)


@router.post("/resources/{resource_id}/revisions", status_code=201, summary="新建版本（修订）")
def revise(db_session: DB, actor: SignedIn, resource_id: Id) -> VersionOut:
    found = resources.start_revision(db_session, actor=actor, resource_id=resource_id)
    return VersionOut.model_validate(found)


@router.post("/versions/{version_id}/submit", summary="提交审核")
def submit(request: Request, db_session: DB, actor: SignedIn, version_id: Id) -> VersionOut:
    found = resources.submit_version(
        db_session, actor=actor, version_id=version_id, rules=_rules(request)
    )
    return VersionOut.model_validate(found)


class WithdrawIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


@router.post("/versions/{version_id}/withdraw", summary="撤回未生效的版本")
def withdraw(db_session: DB, actor: SignedIn, version_id: Id, data: WithdrawIn) -> VersionOut:
    found = resources.withdraw_version(
        db_session, actor=actor, version_id=version_id, reason=data.reason
    )
    return VersionOut.model_validate(found)


@router.post("/versions/{version_id}/review", summary="审核（通过或退回）")
def review(
    request: Request, db_session: DB, actor: SignedIn, version_id: Id, data: ReviewIn
) -> VersionOut:
    found = resources.review_version(
        db_session, actor=actor, version_id=version_id, decision=data, rules=_rules(request)
    )
    return VersionOut.model_validate(found)


@router.post("/resources/{resource_id}/retirement", summary="申请下架")
def retire(db_session: DB, actor: SignedIn, resource_id: Id, data: RetirementIn) -> ResourceOut:
    found = retirements.request_retirement(
        db_session, actor=actor, resource_id=resource_id, data=data
    )
    return _out(found)


@router.post("/resources/{resource_id}/retirement/review", summary="审核下架申请")
def review_retirement(
    request: Request, db_session: DB, actor: SignedIn, resource_id: Id, data: ReviewIn
) -> ResourceOut:
    found = retirements.review_retirement(
        db_session, actor=actor, resource_id=resource_id, decision=data, rules=_rules(request)
    )
    return _out(found)


class QueueOut(BaseModel):
    versions: list[VersionOut]
    retirements: list[ResourceOut]


@router.get("/review-queue", summary="待审核的目录和下架申请")
def queue(db_session: DB, actor: SignedIn) -> QueueOut:
    found = overview.review_queue(db_session, actor=actor)
    return QueueOut(
        versions=[VersionOut.model_validate(v) for v in found.versions],
        retirements=[_out(r) for r in found.retirements],
    )


@router.get("/my-resources", summary="本单位编制的资源（含草稿）")
def mine(db_session: DB, actor: SignedIn, organization_id: Id | None = None) -> list[ResourceOut]:
    rows = overview.department_resources(db_session, actor=actor, organization_id=organization_id)
    return [_out(row.resource) for row in rows]


class DuplicatesIn(BaseModel):
    item_names: list[Annotated[str, Field(max_length=100)]] = Field(max_length=500)
    provider_id: Id | None = None


class DuplicateOut(BaseModel):
    item: str
    existing_item: str
    resource_id: int
    resource_code: str
    resource_name: str
    provider: str


@router.post("/duplicates", summary="重复采集检查：其他部门已提供的信息项")
def duplicates(db_session: DB, actor: SignedIn, data: DuplicatesIn) -> list[DuplicateOut]:
    found = overview.find_duplicates(
        db_session, actor=actor, item_names=data.item_names, provider_id=data.provider_id
    )
    return [DuplicateOut(**vars(m)) for m in found]


@router.post("/resources/{resource_id}/subscription", status_code=201, summary="订阅资源")
def subscribe(db_session: DB, actor: SignedIn, resource_id: Id) -> dict[str, object]:
    found = subscriptions.subscribe(db_session, actor=actor, resource_id=resource_id)
    return {"resource_id": found.resource_id, "organization_id": found.organization_id}


@router.delete("/resources/{resource_id}/subscription", status_code=204, summary="取消订阅")
def unsubscribe(db_session: DB, actor: SignedIn, resource_id: Id) -> None:
    subscriptions.unsubscribe(db_session, actor=actor, resource_id=resource_id)


@router.get("/subscriptions", summary="本单位的订阅")
def my_subscriptions(db_session: DB, actor: SignedIn) -> list[dict[str, object]]:
    rows = subscriptions.my_subscriptions(db_session, actor=actor)
    return [
        {"resource_id": s.resource_id, "code": s.resource.code, "since": s.created_at.isoformat()}
        for s in rows
    ]
