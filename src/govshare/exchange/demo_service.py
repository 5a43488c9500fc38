"""A provider's HTTP API for the demo city, the gateway tests and the gateway benchmark: the
city's market regulation bureau (市场监督管理局) answering enterprise look-ups and licence
checks from the generated company registry, held in memory.

Plain Starlette rather than FastAPI, and every record encoded to JSON once at start-up: the
gateway benchmark calls GET /enterprises/{uscc} thousands of times a second, and the
upstream must not be what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govshare.core import uscc as uscc_code
from govshare.exchange.demo_data import ACTIVE_STATUSES, COMPANY_COLUMNS, COUNTY_NAMES, company_rows

DEFAULT_COMPANIES = 1000
MAX_PAGE_SIZE = 100
MAX_SLEEP_SECONDS = 60.0
_JSON = "application/json"
_PROBLEM = "application/problem+json"


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    """A generated value as JSON has it: ISO dates, numbers for amounts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json(document: Any, status: int = 200) -> Response:
    return Response(_encode(document), status_code=status, media_type=_JSON)


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem document, as the platform's own API answers errors."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(_encode(body), status_code=status, media_type=_PROBLEM)


class _Invalid(Exception):
    """Bad input, answered as 422 naming the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.detail = field, detail


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Invalid)
    return _problem(422, "请求参数不合法", exc.detail, field=exc.field)


@dataclass(frozen=True)
class _Registry:
    """The company registry the service answers from, prepared for fast answers."""

    encoded: dict[str, bytes]  # uscc -> the record's JSON
    records: list[dict[str, Any]]  # in generation order, for listings
    by_region: dict[str, list[dict[str, Any]]]
    licences: dict[str, tuple[str, bool]]  # uscc -> (licence number, active)


def _registry(rows: Sequence[Sequence[Any]]) -> _Registry:
    names = [name for name, _ in COMPANY_COLUMNS]
    records = [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rows]
    return _Registry(
        encoded={r["uscc"]: _encode(r) for r in records},
        records=records,
        by_region={code: [r for r in records if r["region_code"] == code] for code in COUNTY_NAMES},
        licences={r["uscc"]: (r["licence_no"], r["status"] in ACTIVE_STATUSES) for r in records},
    )


def _positive_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _Invalid(name, f"{name} 必须是 1 到 {maximum} 之间的整数，收到 {raw!r}")
    return int(raw)


def create_demo_service(
    *, companies: int = DEFAULT_COMPANIES, seed: int = 0, as_of: datetime | None = None
) -> Starlette:
    """The demo upstream, serving company_rows(companies, seed=seed, as_of=as_of)."""
    registry = _registry(list(company_rows(companies, seed=seed, as_of=as_of)))
    openapi = _encode(openapi_document())
    health = _encode({"status": "ok", "enterprises": len(registry.records)})

    async def get_health(request: Request) -> Response:
        return Response(health, media_type=_JSON)

    async def get_openapi(request: Request) -> Response:
        return Response(openapi, media_type=_JSON)

    async def get_enterprise(request: Request) -> Response:
        code = uscc_code.normalise(request.path_params["uscc"])
        encoded = registry.encoded.get(code)
        if encoded is None:
            return _problem(404, "未找到", f"没有统一社会信用代码为 {code} 的企业")
        return Response(encoded, media_type=_JSON)

    async def list_enterprises(request: Request) -> Response:
        region = request.query_params.get("region_code")
        if region is not None and not (len(region) == 6 and region.isdigit()):
            raise _Invalid(
                "region_code", f"region_code 应为 6 位数字的行政区划代码，收到 {region!r}"
            )
        page = _positive_int(request, "page", 1, 1_000_000)
        size = _positive_int(request, "page_size", 20, MAX_PAGE_SIZE)
        matching = registry.records if region is None else registry.by_region.get(region, [])
        items = matching[(page - 1) * size : page * size]
        return _json({"items": items, "page": page, "page_size": size, "total": len(matching)})

    async def verify_licence(request: Request) -> Response:
        body = await _json_object(request)
        fields: dict[str, str] = {}
        for field in ("uscc", "licence_no"):
            value = body.get(field)
            if not isinstance(value, str) or not value.strip():
                raise _Invalid(field, f"请求体缺少字段 {field}，或它不是非空字符串")
            fields[field] = value.strip()
        code = uscc_code.normalise(fields["uscc"])
        known = registry.licences.get(code)
        if known is None:
            return _json({"valid": False, "uscc": code, "reason": "unknown_enterprise"})
        if known[0] != fields["licence_no"].upper():
            return _json({"valid": False, "uscc": code, "reason": "licence_mismatch"})
        if not known[1]:
            return _json({"valid": False, "uscc": code, "reason": "enterprise_inactive"})
        return _json({"valid": True, "uscc": code})

    routes = [
        Route("/health", get_health, methods=["GET"]),
        Route("/openapi.json", get_openapi, methods=["GET"]),
        Route("/enterprises", list_enterprises, methods=["GET"]),
        Route("/enterprises/{uscc}", get_enterprise, methods=["GET"]),
        Route("/licences/verify", verify_licence, methods=["POST"]),
        Route("/slow", slow, methods=["GET"]),
        Route("/fail", fail, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, exception_handlers={HTTPException: _http_error, _Invalid: _invalid_input}
    )


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise _Invalid("body", "请求体不是合法的 JSON") from None
    if not isinstance(body, dict):
        raise _Invalid("body", "请求体应为 JSON 对象")
    return body


async def slow(request: Request) -> Response:
    """Answers after `seconds`, for the gateway's timeout tests."""
    raw = request.query_params.get("seconds", "1")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise _Invalid(
            "seconds", f"seconds 必须是 0 到 {MAX_SLEEP_SECONDS:g} 之间的数，收到 {raw!r}"
        )
    await asyncio.sleep(seconds)
    return _json({"slept": seconds})


async def fail(request: Request) -> Response:
    """Answers with the error `status` asked for, for the gateway's upstream-failure tests."""
    raw = request.query_params.get("status", "500")
    if not raw.isdigit() or not 400 <= int(raw) <= 599:
        raise _Invalid("status", f"status 必须是 400 到 599 之间的整数，收到 {raw!r}")
    return _problem(int(raw), "上游故障（演示）", f"演示服务按要求返回 {raw}")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (unknown path, wrong method) as problem JSON too."""
    assert isinstance(exc, HTTPException)
    title = {404: "未找到", 405: "不允许的请求方法"}.get(exc.status_code, "请求错误")
    response = _problem(exc.status_code, title, f"{request.method} {request.url.path}：{title}")
    response.headers.update(exc.headers or {})
    return response


def _error_responses(*statuses: int) -> dict[str, Any]:
    problem = {_PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    texts = {404: "未找到", 422: "请求参数不合法"}
    return {str(s): {"description": texts.get(s, "错误"), "content": problem} for s in statuses}


def _ok(schema: dict[str, Any], description: str = "成功") -> dict[str, Any]:
    return {"200": {"description": description, "content": {_JSON: {"schema": schema}}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_OPENAPI_TYPES = {
    "text": {"type": "string"},
    "numeric": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "bigint": {"type": "integer"},
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the service, written out by hand (Starlette makes none)."""
    enterprise = {"$ref": "#/components/schemas/Enterprise"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "上饶市市场监督管理局企业信息服务（演示）",
            "version": "1.0.0",
            "description": "演示用的上游接口：企业登记信息查询与许可证核验。数据为生成的演示数据。",
        },
        "paths": {
            "/health": {"get": {"summary": "健康检查", "operationId": "health",
                                "responses": _ok({"type": "object"})}},
            "/enterprises/{uscc}": {"get": {
                "summary": "按统一社会信用代码查询企业登记信息",
                "operationId": "getEnterprise",
                "parameters": [{"name": "uscc", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 18, "maxLength": 18},
                                "description": "统一社会信用代码"}],
                "responses": {**_ok(enterprise), **_error_responses(404)},
            }},
            "/enterprises": {"get": {
                "summary": "分页列出企业，可按行政区划筛选",
                "operationId": "listEnterprises",
                "parameters": [
                    _query("region_code", {"type": "string", "pattern": "^[0-9]{6}$"}, "县级行政区划代码"),
                    _query("page", {"type": "integer", "minimum": 1, "default": 1}, "页码"),
                    _query("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                         "default": 20}, "每页条数"),
                ],
                "responses": {**_ok({"type": "object", "required": ["items", "page", "page_size", "total"],
                                     "properties": {"items": {"type": "array", "items": enterprise},
                                                    "page": {"type": "integer"},
                                                    "page_size": {"type": "integer"},
                                                    "total": {"type": "integer"}}}),
                              **_error_responses(422)},
            }},
            "/licences/verify": {"post": {
                "summary": "核验企业许可证编号",
                "operationId": "verifyLicence",
                "requestBody": {"required": True, "content": {_JSON: {"schema": {
                    "type": "object", "required": ["uscc", "licence_no"],
                    "properties": {"uscc": {"type": "string"}, "licence_no": {"type": "string"}}}}}},
                "responses": {**_ok({"type": "object", "required": ["valid"], "properties": {
                    "valid": {"type": "boolean"}, "uscc": {"type": "string"},
                    "reason": {"enum": ["unknown_enterprise", "licence_mismatch", "enterprise_inactive"]}}}),
                    **_error_responses(422)},
            }},
            "/slow": {"get": {
                "summary": "延迟应答（用于超时测试）",
                "operationId": "slow",
                "parameters": [_query("seconds", {"type": "number", "minimum": 0,
                                                  "maximum": MAX_SLEEP_SECONDS, "default": 1}, "延迟秒数")],
                "responses": {**_ok({"type": "object"}), **_error_responses(422)},
            }},
            "/fail": {"get": {
                "summary": "按要求返回错误状态（用于上游故障测试）",
                "operationId": "fail",
                "parameters": [_query("status", {"type": "integer", "minimum": 400, "maximum": 599,
                                                 "default": 500}, "返回的 HTTP 状态码")],
                "responses": _error_responses(422, 500),
            }},
            "/openapi.json": {"get": {"summary": "本接口文档", "operationId": "openapi",
                                      "responses": _ok({"type": "object"})}},
        },
        "components": {"schemas": {
            "Enterprise": {
                "type": "object",
                "required": [name for name, _ in COMPANY_COLUMNS],
                "properties": {name: _OPENAPI_TYPES[kind] for name, kind in COMPANY_COLUMNS},
            },
            "Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "field": {"type": "string"}}},
        }},
    }  # fmt: skip


def serve_demo_service(
    host: str = "127.0.0.1", port: int = 8765, *, companies: int = DEFAULT_COMPANIES, seed: int = 0
) -> None:
    """Runs the demo service with uvicorn until interrupted."""
    app = create_demo_service(companies=companies, seed=seed)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def running_demo_service(
    host: str = "127.0.0.1", port: int = 0, *, companies: int = DEFAULT_COMPANIES, seed: int = 0
) -> Iterator[str]:
    """The demo service on a real socket in a background thread (port 0: any free one), for
    tests that need an actual upstream; yields its base URL and stops it afterwards."""
    app = create_demo_service(companies=companies, seed=seed)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"演示服务未能在 {host}:{port} 启动")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m govshare.exchange.demo_service`: the service in a process of its own, as the
    gateway benchmark runs it (a thread would share the benchmark's interpreter)."""
    parser = argparse.ArgumentParser(description="演示用上游企业信息服务")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--companies", type=int, default=DEFAULT_COMPANIES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    serve_demo_service(args.host, args.port, companies=args.companies, seed=args.seed)


if __name__ == "__main__":
    main()
