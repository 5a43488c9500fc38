"""One place that renders errors: problem+json (RFC 9457) for the API, a page otherwise."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from govshare.core.errors import DomainError, Invalid
from govshare.web.deps import LoginRequired
from govshare.web.forms import message_of
from govshare.web.templating import render

log = logging.getLogger("govshare.web")
PROBLEM = "application/problem+json"


class FieldErrorOut(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error as RFC 9457 problem details: what went wrong and, for bad input, which field."""

    type: str = Field(description="urn:govshare:error:<kind>, or about:blank")
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request's path")
    field: str | None = Field(default=None, description="the offending field, if one")
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="every field that broke a rule, for input checked at once"
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An error answer for `responses=`: its description, with the problem+json body."""
    return {"model": Problem, "description": description}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem_doc("未登录，或登录已失效、令牌无效"),
    403: problem_doc("无权进行此操作"),
    404: problem_doc("对象不存在，或无权查看"),
    409: problem_doc("与当前状态冲突（如已提交、已处理、已超过期限）"),
    413: problem_doc("请求体超过上限"),
    422: problem_doc("输入不符合规则；field 指出是哪一个字段，errors 列出全部"),
}
"""The error answers every API operation may give, documented once for the whole API."""


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def problem_response(request: Request, body: dict[str, object]) -> JSONResponse:
    body = {**body, "instance": request.url.path}
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM)  # type: ignore[call-overload]


def field_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as (field, message) pairs with the rule's own Chinese text."""
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p not in ("body", "query", "path", "form")]
        errors.append({"field": ".".join(loc) or "body", "message": message_of(error)})
    return errors


def _invalid(exc: RequestValidationError | ValidationError) -> Invalid:
    errors = field_errors(exc)
    first = errors[0] if errors else {"field": "body", "message": "请求无效"}
    return Invalid(f"{first['field']}: {first['message']}", field=first["field"], errors=errors)


def _problem_media_type(app: FastAPI) -> None:
    """Error answers are documented under their real media type, application/problem+json."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = plain()
            ref = "#/components/schemas/Problem"
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if content.get("application/json", {}).get("schema", {}).get("$ref") == ref:
                            content[PROBLEM] = content.pop("application/json")
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _problem_media_type(app)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _wants_json(request):
            return problem_response(request, exc.to_problem())
        return render(request, "error.html", {"error": exc}, status_code=exc.status)

    # A ValidationError escaping a route is input checked again inside (a service building
    # its own model from the request's): still the caller's input, so a 422, never a 500.
    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)
    async def _validation(
        request: Request, exc: RequestValidationError | ValidationError
    ) -> Response:
        error = _invalid(exc)
        if _wants_json(request):
            return problem_response(request, error.to_problem())
        return render(request, "error.html", {"error": error}, status_code=422)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "页面不存在", 405: "不支持的请求方法", 413: "请求体过大"}
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
        if _wants_json(request):
            return problem_response(request, body)
        error = DomainError(str(body["detail"]))
        error.status = 500
        try:  # a page gets a page, in the layout when it can still be rendered
            return render(request, "error.html", {"error": error}, status_code=500)
        except Exception:
            log.exception("the error page failed too on %s", request.url.path)
            return HTMLResponse(
                '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
                f"<title>{body['title']}</title><p>{body['detail']}</p></html>",
                status_code=500,
            )
