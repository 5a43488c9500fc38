"""One place that renders errors: problem+json (RFC 9457) for the API, a page otherwise."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from govshare.core.errors import DomainError, Invalid
from govshare.web.deps import LoginRequired
from govshare.web.templating import render

log = logging.getLogger("govshare.web")
PROBLEM = "application/problem+json"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def problem_response(request: Request, body: dict[str, object]) -> JSONResponse:
    body = {**body, "instance": request.url.path}
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM)  # type: ignore[call-overload]


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as (field, message) pairs with the rule's own Chinese text."""
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p not in ("body", "query", "path", "form")]
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.append(
            {"field": ".".join(loc) or "body", "message": _translate(error["type"], message)}
        )
    return errors


def _translate(kind: str, message: str) -> str:
    known = {
        "missing": "必填",
        "int_parsing": "须为整数",
        "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
        "date_parsing": "日期格式应为 YYYY-MM-DD",
        "enum": "取值不在允许范围内",
        "string_too_short": "长度不足",
        "string_too_long": "长度超出限制",
        "bool_parsing": "须为是或否",
    }
    return known.get(kind, message)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _wants_json(request):
            return problem_response(request, exc.to_problem())
        return render(request, "error.html", {"error": exc}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(exc)
        first = errors[0] if errors else {"field": "body", "message": "请求无效"}
        error = Invalid(
            f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        )
        if _wants_json(request):
            return problem_response(request, error.to_problem())
        return render(request, "error.html", {"error": error}, status_code=422)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "页面不存在", 405: "不支持的请求方法"}
        body = {
            "type": "about:blank",
            "title": titles.get(exc.status_code, str(exc.detail)),
            "status": exc.status_code,
            "detail": str(exc.detail),
        }
        if _wants_json(request):
            return problem_response(request, body)
        error = DomainError(titles.get(exc.status_code, str(exc.detail)))
        error.status = exc.status_code
        return render(request, "error.html", {"error": error}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        body = {
            "type": "about:blank",
            "title": "服务器内部错误",
            "status": 500,
            "detail": "服务器内部错误，操作未完成，数据未改变。请稍后重试或联系平台管理员。",
        }
        return problem_response(request, body) if _wants_json(request) else JSONResponse(body, 500)
