"""Sharing API: every use of shared data (SR§25, SHR-7) — a grant's uses for both parties, a
department's uses as provider or consumer, every department's for overseers, and a CSV
export. The facts are written by the exchange's delivery paths (`exchange.service.usage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from govshare.core import clock
from govshare.core.inputs import Id
from govshare.exchange.service import usage
from govshare.sharing.service import grants
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/sharing", tags=["资源共享"])

Side = Literal["provider", "consumer"]
SIDE_HELP = "provider：本单位资源被使用的记录；consumer：本单位使用他人数据的记录"
ORG_HELP = "部门（平台管理单位、主管部门和审计员可指定任一部门；不指定则为全部部门）"


class KindCountOut(BaseModel):
    kind: str = Field(
        description="query | lookup | download_csv | download_xlsx | download_jsonl | file | push | gateway"
    )
    label: str
    last_7_days: int
    last_30_days: int
    total: int


class UseOut(BaseModel):
    at: datetime
    kind: str
    label: str
    rows: int | None = Field(description="交付的行数；文件下载和接口调用为 null")
    caller: str = Field(description="操作方：用户或接入系统")
    grant_id: int
    grant_number: str
    resource_code: str
    consumer: str
    provider: str


class GrantUsesOut(BaseModel):
    grant_id: int
    counts: list[KindCountOut]
    latest: list[UseOut]


def _counts(counts: usage.Counts) -> list[KindCountOut]:
    return [
        KindCountOut(
            kind=k.kind.value,
            label=k.label,
            last_7_days=k.last_7,
            last_30_days=k.last_30,
            total=k.total,
        )
        for k in counts.kinds
    ]


def _use(u: usage.Use) -> UseOut:
    return UseOut(
        at=u.at,
        kind=u.kind.value,
        label=u.label,
        rows=u.rows,
        caller=u.caller,
        grant_id=u.grant_id,
        grant_number=u.grant_number,
        resource_code=u.resource_code,
        consumer=u.consumer,
        provider=u.provider,
    )


@router.get(
    "/grants/{grant_id}/uses",
    summary="授权下的数据使用情况：按方式统计（近7天、近30天、累计）和最近的使用",
)
def grant_uses(
    db_session: DB,
    actor: SignedIn,
    grant_id: Id,
    latest: int = Query(20, ge=1, le=usage.MAX_LIMIT, description="返回最近多少次使用"),
) -> GrantUsesOut:
    grant = grants.get_grant(db_session, actor=actor, grant_id=grant_id)
    found = usage.uses_of_grants(db_session, actor=actor, grants=[grant], latest=latest)
    counts, uses = found.of(grant.id)
    return GrantUsesOut(grant_id=grant.id, counts=_counts(counts), latest=[_use(u) for u in uses])


@router.get("/uses", summary="数据使用记录：本单位资源被谁使用，或本单位的使用（最新在前）")
def uses(
    db_session: DB,
    actor: SignedIn,
    side: Side = Query("provider", description=SIDE_HELP),
    organization_id: Id | None = Query(None, description=ORG_HELP),
    grant_id: Id | None = Query(None),
    since: datetime | None = Query(None, description="只列此时刻以后的使用（须带时区）"),
    limit: int = Query(100, ge=1, le=usage.MAX_LIMIT),
) -> list[UseOut]:
    found = usage.list_uses(
        db_session,
        actor=actor,
        side=side,
        organization_id=organization_id,
        grant_id=grant_id,
        since=since,
        limit=limit,
    )
    return [_use(u) for u in found]


@router.get(
    "/uses/export",
    summary="导出数据使用记录（CSV，UTF-8 带 BOM，流式）",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    side: Side = Query("provider", description=SIDE_HELP),
    organization_id: Id | None = Query(None, description=ORG_HELP),
    since: datetime | None = Query(None, description="只导出此时刻以后的使用（须带时区）"),
) -> StreamingResponse:
    scope = usage.export_scope(
        db_session, actor=actor, side=side, organization_id=organization_id, since=since
    )
    lines = usage.export_uses(scope, transaction=runtime_of(request).transaction)
    name = quote(f"数据使用记录-{clock.today().isoformat()}.csv")
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"uses.csv\"; filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )
