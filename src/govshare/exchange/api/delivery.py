"""Exchange API: delivery of table resources under the grant (EXC-5, EXC-6) — online query,
keyed lookup and streamed batch download from the data resource center.

Resource codes carry a slash (`1010001/000001`), so the routes take them with a path
convertor of their own; every other segment is plain.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor

from govshare.exchange.service import delivery
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.errors import problem_doc, problem_response


class ResourceCodeConvertor(Convertor[str]):
    """A catalog resource code in a path: classification digits, a slash, six digits."""

    regex = r"[0-9]{1,9}/[0-9]{6}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("resource_code", ResourceCodeConvertor())

router = APIRouter(prefix="/exchange/data", tags=["数据交换：库表数据"])

FILTERS_HELP = (
    "其余查询参数均为筛选条件，按原始值（脱敏前）比较，只能使用授权范围内的字段："
    "`字段=值` 等于；`字段__prefix=值` 以该值开头（文本字段）；`字段__from=值`、`字段__to=值` "
    "不小于、不大于（含端点）。字段可写信息项名称（如 公民身份号码）或字段名（如 id_number）。"
    "已脱敏的字段只能按“等于”筛选。`fields=` 以逗号分隔，选择返回的字段。"
)


class FieldOut(BaseModel):
    name: str  # the column name: the key of each row
    item: str  # the catalog data item (信息项)
    type: str
    masking: str | None  # the masking rule applied, if any


class DataPageOut(BaseModel):
    resource_code: str
    resource_name: str
    grant: str
    fields: list[FieldOut]
    rows: list[dict[str, Any]]
    count: int
    next_cursor: str | None = None
    total: int | None = None
    missing_fields: list[str] = []  # granted data items the center has no column for
    # Per row: an objection on the record is open, its values are being verified (核实中).
    under_verification: list[bool] = []


def _out(page: delivery.DataPage) -> DataPageOut:
    return DataPageOut(
        resource_code=page.resource_code,
        resource_name=page.name,
        grant=page.grant.number,
        fields=[
            FieldOut(
                name=f.column, item=f.item, type=f.type, masking=f.mask.rule if f.mask else None
            )
            for f in page.fields
        ],
        rows=page.rows,
        count=len(page.rows),
        next_cursor=page.next_cursor,
        total=page.total,
        missing_fields=list(page.missing),
        under_verification=list(page.verifying),
    )


def _refused(request: Request, rejected: delivery.Rejected) -> JSONResponse:
    """Returned, not raised: the access log and the refusal's entry commit with the request."""
    body = rejected.error.to_problem()
    if rejected.grant is not None:
        body["grant_id"] = rejected.grant.id
        body["grant_state"] = rejected.grant.state.value
    return problem_response(request, body)


def _request(request: Request, fields: str | None) -> delivery.DataRequest:
    filters = [(k, v) for k, v in request.query_params.multi_items() if k not in delivery.RESERVED]
    return delivery.DataRequest(filters=filters, fields=requested_fields(fields))


REFUSALS: dict[int | str, dict[str, Any]] = {
    403: problem_doc("无有效授权（detail 说明原因，如已被暂停及其理由），或字段不在授权范围内"),
    422: problem_doc("筛选值、字段名、每页条数或游标无效；field 指出是哪一个"),
}


@router.get(
    "/{resource_code:resource_code}/download",
    summary="批量下载授权范围内的数据（CSV / Excel / JSON Lines，流式）",
    description=(
        "按授权字段、数据范围和脱敏规则导出，边查边传，不受数据量限制。CSV 为 UTF-8（带 BOM，"
        "Excel 可直接打开），表头为信息项名称；Excel 表头同 CSV，每张工作表最多 1048575 行；"
        "JSON Lines 每行一条记录，键为字段名。" + FILTERS_HELP
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m, _ in delivery.FORMATS.values()}}, **REFUSALS},
)
def download(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    resource_code: str,
    format: str = "csv",
    fields: str | None = None,
) -> Any:
    runtime = runtime_of(request)
    started = delivery.start_download(
        db_session,
        actor=actor,
        settings=runtime.settings,
        center=runtime.center,
        resource_code=resource_code,
        request=_request(request, fields),
        fmt=format,
    )
    if isinstance(started, delivery.Rejected):
        return _refused(request, started)
    body = delivery.stream_download(started, center=runtime.center, transaction=runtime.transaction)
    ascii_name = f"{started.resource_code.replace('/', '-')}.{delivery.FORMATS[format][1]}"
    disposition = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(started.filename)}"
    )
    return StreamingResponse(
        body,
        media_type=started.media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@router.get(
    "/{resource_code:resource_code}/{key}",
    summary="按主键查询一条记录（如按公民身份号码核验）",
    description=(
        "主键按原始值精确匹配（脱敏字段也可查询），返回授权字段，已按规则脱敏。记录不存在或不在"
        "授权的数据范围内时返回 404。复合主键按顺序用逗号分隔。`fields=` 选择返回的字段。"
    ),
    response_model=DataPageOut,
    responses={404: problem_doc("没有这条记录，或不在授权的数据范围内"), **REFUSALS},
)
def lookup(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    resource_code: str,
    key: str,
    fields: str | None = None,
) -> Response:
    runtime = runtime_of(request)
    page = delivery.lookup(
        db_session,
        actor=actor,
        settings=runtime.settings,
        center=runtime.center,
        resource_code=resource_code,
        key=key,
        fields=requested_fields(fields),
    )
    return answer_lookup(request, page)


def requested_fields(fields: str | None) -> list[str]:
    """`fields=` as the names it lists (comma separated)."""
    return [n.strip() for n in (fields or "").split(",") if n.strip()]


def answer_lookup(request: Request, page: delivery.DataPage | delivery.Rejected) -> Response:
    """The lookup's answer, for this route and the lean one (`exchange.api.lookup_route`)."""
    if isinstance(page, delivery.Rejected):
        return _refused(request, page)
    if not page.rows:
        # Returned, not raised: the lookup of a missing record is logged too.
        body = {
            "type": "urn:govshare:error:not-found",
            "title": "对象不存在",
            "status": 404,
            "detail": "没有这条记录，或不在授权的数据范围内",
            "field": "key",
        }
        return problem_response(request, body)
    # Serialised once by pydantic-core: FastAPI would validate the model again against
    # response_model and encode it through jsonable_encoder, on every lookup.
    return Response(_out(page).model_dump_json(), media_type="application/json")


@router.get(
    "/{resource_code:resource_code}",
    summary="在线查询授权范围内的数据（分页）",
    description=(
        "返回授权字段、授权数据范围内的记录，已按规则脱敏，按主键排序。`limit` 每页条数"
        f"（默认 {delivery.DEFAULT_LIMIT}，最多 {delivery.MAX_LIMIT}）；有下一页时返回 "
        "`next_cursor`，原样放入 `cursor=` 取下一页；`total=true` 同时返回符合条件的总数。"
        + FILTERS_HELP
    ),
    response_model=DataPageOut,
    responses=REFUSALS,
)
def query(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    resource_code: str,
    limit: Annotated[int, Query(ge=1, le=delivery.MAX_LIMIT)] = delivery.DEFAULT_LIMIT,
    cursor: str | None = None,
    total: bool = False,
    fields: str | None = None,
) -> DataPageOut | JSONResponse:
    runtime = runtime_of(request)
    page = delivery.query(
        db_session,
        actor=actor,
        settings=runtime.settings,
        center=runtime.center,
        resource_code=resource_code,
        request=_request(request, fields),
        limit=limit,
        cursor=cursor,
        total=total,
    )
    if isinstance(page, delivery.Rejected):
        return _refused(request, page)
    return _out(page)
