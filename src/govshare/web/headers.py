"""Security headers on every response: pages may not be framed and run only the platform's
own scripts; no response is content-sniffed."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from the platform's own files (htmx and static/app.js; no inline scripts or
# handlers). Inline styles stay allowed: templates use style attributes, and htmx adds its
# indicator style. frame-ancestors is the modern form of X-Frame-Options.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_EVERY_RESPONSE = ((b"x-content-type-options", b"nosniff"),)
_PAGES = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"same-origin"),
)
# JSON, the interactive API documentation (which loads its own scripts) and the gateway's
# relayed answers get nosniff only.
_NOT_PAGES = ("/api/", "/gateway/")


class SecurityHeaders:
    """Adds the headers a response does not set itself (a route may set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = _EVERY_RESPONSE if path.startswith(_NOT_PAGES) else _EVERY_RESPONSE + _PAGES

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
