"""Domain errors. Each carries its meaning; the web layer renders them (problem+json or a page
message) and the CLI prints them as one line with exit code 2."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    kind = "invalid"
    title = "请求无效"

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_problem(self) -> dict[str, object]:
        """RFC 9457 body (without `instance`, which the web layer adds)."""
        body: dict[str, object] = {
            "type": f"urn:govshare:error:{self.kind}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
        }
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class Invalid(DomainError):
    """Input breaks a rule; `field` names the offending field."""

    status = 422
    kind = "invalid"
    title = "输入不符合规则"


class NotFound(DomainError):
    """The object does not exist, or the caller may not see it (never say which)."""

    status = 404
    kind = "not-found"
    title = "对象不存在"


class Forbidden(DomainError):
    """The caller may see the object but may not do this to it."""

    status = 403
    kind = "forbidden"
    title = "无权执行此操作"


class Unauthenticated(DomainError):
    """No valid sign-in or token."""

    status = 401
    kind = "unauthenticated"
    title = "未登录或凭证无效"


class Conflict(DomainError):
    """The change clashes with the current state (duplicate, wrong lifecycle state)."""

    status = 409
    kind = "conflict"
    title = "与现有数据冲突"


class DeadlinePassed(DomainError):
    """A step was attempted after its working-day deadline."""

    status = 409
    kind = "deadline-passed"
    title = "已超过办理期限"


class Locked(DomainError):
    """The account is locked after repeated failed sign-ins."""

    status = 423
    kind = "locked"
    title = "账户已锁定"


class ConfigError(Exception):
    """A setting is wrong; the message names the setting. Raised at start, never at run time."""
