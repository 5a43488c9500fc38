"""Federation API: requests to the level above (SHR-8) — describing an upper resource, a
department's requests, the operator's pre-review, bundling and pulling, the mirrored grants
and the relayed query; and, at the upper platform, the bundles received.

Routes that talk to the peer commit the request's own transaction first (it may hold the
sign-in's write): the federation services run their own around the message."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govshare.core.inputs import Id
from govshare.federation import gateway_relay, inbound, relay, requests
from govshare.federation.request_models import Bundle, MirroredGrant, UpperRequest
from govshare.federation.request_schemas import ForwardIn, RelayQueryIn, ReviewIn, UpperRequestIn
from govshare.sharing.api.applications import uploads_of
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/federation", tags=["级联：上级资源申请"])


class AttachmentIn(BaseModel):
    kind: str = Field(description="sealed_letter 加盖公章的申请函 | usage_commitment 使用承诺函")
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(description="application/pdf, image/png or image/jpeg")
    content_base64: str


class UpperRequestSubmitIn(UpperRequestIn):
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class UpperResourceOut(BaseModel):
    peer_id: int
    peer_name: str
    code: str
    name: str
    provider: str
    share_type: str
    items: list[dict[str, Any]]
    attachments: list[str]


class UpperRequestOut(BaseModel):
    id: int
    number: str
    organization: str
    peer: str
    resource_code: str
    resource_name: str
    provider: str
    fields: list[str]
    purpose: str
    basis: str
    system_name: str
    valid_from: date
    valid_until: date
    state: str
    state_label: str
    review_comment: str | None
    bundle: str | None
    upper_number: str | None
    upper_state: str | None
    upper_due_on: date | None
    upper_reason: str | None
    upper_basis: str | None
    upper_conditions: str | None
    upper_updated_at: datetime | None


class MirroredGrantOut(BaseModel):
    id: int
    number: str
    organization: str
    resource_code: str
    resource_name: str
    fields: list[str]
    row_filter: list[dict[str, Any]]
    masking: list[dict[str, Any]]
    conditions: str
    valid_from: date
    valid_until: date | None
    state: str
    mirrored_at: datetime


class BundleOut(BaseModel):
    id: int
    number: str
    peer: str
    resource_code: str
    resource_name: str
    state: str
    state_label: str
    message_id: str | None
    upper_number: str | None
    error: str | None
    requests: list[str]
    pulled_at: datetime | None


class ReadyOut(BaseModel):
    peer_id: int
    peer: str
    resource_code: str
    resource_name: str
    requests: list[str]


class BundlesOut(BaseModel):
    ready: list[ReadyOut]
    bundles: list[BundleOut]


class RelayedOut(BaseModel):
    message_id: str
    grant: str
    resource_code: str
    resource_name: str
    fields: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    count: int
    next_cursor: str | None


class InboundOut(BaseModel):
    number: str
    peer: str
    lower_number: str
    message_id: str
    resource_code: str
    resource_name: str
    received_at: datetime
    items: list[dict[str, Any]]


def request_out(r: UpperRequest) -> UpperRequestOut:
    return UpperRequestOut(
        id=r.id,
        number=r.number,
        organization=r.organization.name,
        peer=r.peer.name,
        resource_code=r.resource_code,
        resource_name=r.resource_name,
        provider=r.provider_name,
        fields=r.fields,
        purpose=r.purpose,
        basis=r.basis,
        system_name=r.system_name,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        state=r.state.value,
        state_label=r.state.label,
        review_comment=r.review_comment,
        bundle=r.bundle.number if r.bundle else None,
        upper_number=r.upper_number,
        upper_state=r.upper_state,
        upper_due_on=r.upper_due_on,
        upper_reason=r.upper_reason,
        upper_basis=r.upper_basis,
        upper_conditions=r.upper_conditions,
        upper_updated_at=r.upper_updated_at,
    )


def grant_out(g: MirroredGrant) -> MirroredGrantOut:
    return MirroredGrantOut(
        id=g.id,
        number=g.number,
        organization=g.organization.name,
        resource_code=g.resource_code,
        resource_name=g.resource_name,
        fields=g.fields,
        row_filter=g.row_filter,
        masking=g.masking,
        conditions=g.conditions,
        valid_from=g.valid_from,
        valid_until=g.valid_until,
        state=g.state,
        mirrored_at=g.mirrored_at,
    )


def bundle_out(db_session: Session, b: Bundle) -> BundleOut:
    return BundleOut(
        id=b.id,
        number=b.number,
        peer=b.peer.name,
        resource_code=b.resource_code,
        resource_name=b.resource_name,
        state=b.state.value,
        state_label=b.state.label,
        message_id=b.message_id,
        upper_number=b.upper_number,
        error=b.error,
        requests=[r.number for r in requests.bundle_requests(db_session, b.id)],
        pulled_at=b.pulled_at,
    )


def _release(db_session: Session) -> None:
    """Commits what the request wrote so far (the sign-in), before a message to the peer."""
    db_session.commit()


@router.get("/upper-resources", summary="查询上级平台的资源（名称、提供部门、信息项）")
def describe(request: Request, db_session: DB, actor: SignedIn, code: str) -> UpperResourceOut:
    _release(db_session)
    found = requests.describe(runtime_of(request), actor=actor, code=code)
    return UpperResourceOut(
        peer_id=found.peer_id,
        peer_name=found.peer_name,
        code=found.code,
        name=found.name,
        provider=found.provider,
        share_type=found.share_type,
        items=found.items,
        attachments=found.attachments,
    )


@router.post("/upper-requests", status_code=201, summary="提出上级资源申请")
def file_request(
    request: Request, db_session: DB, actor: SignedIn, data: UpperRequestSubmitIn
) -> UpperRequestOut:
    uploads = uploads_of(data.attachments)
    _release(db_session)
    request_id = requests.file_request(
        runtime_of(request),
        actor=actor,
        data=UpperRequestIn.model_validate(data.model_dump(exclude={"attachments"})),
        uploads=uploads,
    )
    return request_out(requests.get_request(db_session, actor=actor, request_id=request_id))


@router.get("/upper-requests", summary="上级资源申请（本单位的；平台管理单位看全部）")
def list_requests(db_session: DB, actor: SignedIn) -> list[UpperRequestOut]:
    return [request_out(r) for r in requests.list_requests(db_session, actor=actor)]


@router.get("/upper-requests/{request_id}", summary="上级资源申请详情，含上级的办理状态和期限")
def get_request(db_session: DB, actor: SignedIn, request_id: Id) -> UpperRequestOut:
    return request_out(requests.get_request(db_session, actor=actor, request_id=request_id))


@router.post("/upper-requests/{request_id}/review", summary="本级预审：通过待报送，或退回")
def review(db_session: DB, actor: SignedIn, request_id: Id, data: ReviewIn) -> UpperRequestOut:
    return request_out(requests.review(db_session, actor=actor, request_id=request_id, data=data))


@router.get("/upper-bundles", summary="待报送的申请（按上级资源汇总）和已报送的整体授权申请")
def bundles(db_session: DB, actor: SignedIn) -> BundlesOut:
    ready = [
        ReadyOut(
            peer_id=g.peer_id,
            peer=g.peer_name,
            resource_code=g.resource_code,
            resource_name=g.resource_name,
            requests=[r.number for r in g.requests],
        )
        for g in requests.ready_groups(db_session, actor=actor)
    ]
    return BundlesOut(
        ready=ready,
        bundles=[bundle_out(db_session, b) for b in requests.list_bundles(db_session, actor=actor)],
    )


@router.post(
    "/upper-bundles",
    status_code=201,
    summary="报送：将同一上级资源的待报送申请汇总为一份整体授权申请发往上级平台",
)
def forward(request: Request, db_session: DB, actor: SignedIn, data: ForwardIn) -> BundleOut:
    _release(db_session)
    bundle_id = requests.forward(
        runtime_of(request), actor=actor, peer_id=data.peer_id, resource_code=data.resource_code
    )
    bundle = db_session.get(Bundle, bundle_id)
    assert bundle is not None
    return bundle_out(db_session, bundle)


@router.post("/upper-bundles/{bundle_id}/pull", summary="向上级平台同步办理进度和授权")
def pull(request: Request, db_session: DB, actor: SignedIn, bundle_id: Id) -> BundleOut:
    _release(db_session)
    requests.pull(runtime_of(request), actor=actor, bundle_id=bundle_id)
    bundle = db_session.get(Bundle, bundle_id)
    assert bundle is not None
    return bundle_out(db_session, bundle)


@router.get("/upper-grants", summary="上级授权（本单位的；平台管理单位看全部）")
def upper_grants(db_session: DB, actor: SignedIn) -> list[MirroredGrantOut]:
    return [grant_out(g) for g in requests.list_mirrored(db_session, actor=actor)]


@router.post(
    "/upper-grants/{grant_id}/query",
    summary="经本级平台查询上级授权范围内的数据（已脱敏）",
    description=(
        "`filters` 为 字段→值：`字段` 等于；`字段__prefix` 以该值开头；`字段__from`、`字段__to` "
        "不小于、不大于。字段可写信息项名称或字段名。`fields` 选择返回的字段，`cursor` 取下一页。"
        "查询由上级平台按授权执行，双方审计日志以同一消息编号记录。"
    ),
)
def query(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: RelayQueryIn
) -> RelayedOut:
    _release(db_session)
    page = relay.query(runtime_of(request), actor=actor, grant_id=grant_id, data=data)
    return RelayedOut(
        message_id=page.message_id,
        grant=page.grant,
        resource_code=page.resource_code,
        resource_name=page.resource_name,
        fields=page.fields,
        rows=page.rows,
        count=len(page.rows),
        next_cursor=page.next_cursor,
    )


@router.post(
    "/upper-grants/{grant_id}/download",
    summary=f"经本级平台下载上级授权数据（CSV，至多 {relay.DOWNLOAD_ROWS} 行）",
)
def download(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: RelayQueryIn
) -> StreamingResponse:
    _release(db_session)
    page, chunks = relay.download_csv(
        runtime_of(request), actor=actor, grant_id=grant_id, data=data
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{page.grant}.csv"',
            "X-Govshare-Message-Id": page.message_id,
        },
    )


async def gateway_call(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, path: str
) -> Response:
    content = await request.body()
    runtime = runtime_of(request)

    def relayed() -> gateway_relay.RelayedAnswer:
        _release(db_session)
        return gateway_relay.call(
            runtime,
            actor=actor,
            grant_id=grant_id,
            method=request.method,
            path=path,
            query=request.url.query,
            headers=dict(request.headers),
            body=content,
        )

    answer = await run_in_threadpool(relayed)
    return Response(
        answer.body,
        status_code=answer.status,
        headers=answer.headers | {"X-Govshare-Message-Id": answer.message_id},
    )


for _method in sorted(gateway_relay.METHODS):  # one operation per method in the OpenAPI
    router.add_api_route(
        "/upper-grants/{grant_id}/gateway/{path:path}",
        gateway_call,
        methods=[_method],
        operation_id=f"federation_upper_grant_gateway_{_method.lower()}",
        summary="经本级平台调用上级授权的服务接口",
        description=(
            "按上级授权调用上级平台的服务接口：`path` 为接口路径（如 `enterprises/9136…`），"
            "查询串、Content-Type、Accept 和请求体原样转发。调用由上级平台网关按授权的接口范围、"
            "调用频率和超时执行并记入其调用日志，双方审计日志以同一消息编号记录；"
            "响应头 `X-Govshare-Message-Id` 为该编号。"
        ),
    )


@router.get("/inbound-bundles", summary="下级平台报来的整体授权申请（上级平台）")
def inbound_bundles(db_session: DB, actor: SignedIn) -> list[InboundOut]:
    return [
        InboundOut(
            number=b.number,
            peer=b.peer.name,
            lower_number=b.lower_number,
            message_id=b.message_id,
            resource_code=b.resource_code,
            resource_name=b.resource_name,
            received_at=b.received_at,
            items=[
                {
                    "number": i.lower_number,
                    "organization": i.organization_name,
                    "uscc": i.uscc,
                    "application": i.application.number if i.application else None,
                    "state": i.application.state.label if i.application else "未受理",
                    "error": i.error,
                }
                for i in b.items
            ],
        )
        for b in inbound.list_inbound(db_session, actor=actor)
    ]
