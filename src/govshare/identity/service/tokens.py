"""API tokens: issued to an organisation's systems, shown once, stored as a digest."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from govshare.core import clock, stamp
from govshare.core.audit import record
from govshare.core.errors import Conflict, NotFound, Unauthenticated
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import (
    ApiToken,
)
from govshare.identity.schemas import (
    ApiTokenIn,
)
from govshare.identity.service.common import TOKEN_PREFIX, _sha256
from govshare.identity.service.organizations import _organization
from govshare.systems import service as systems_service
from govshare.systems.models import InformationSystem


def issue_api_token(db_session: Session, *, actor: Actor, data: ApiTokenIn) -> tuple[ApiToken, str]:
    """Creates a token for a department's system; the secret is returned once, never stored."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="签发接口令牌")
    system = db_session.get(InformationSystem, data.system_id)
    if system is None or not (
        actor.has(Role.PLATFORM_OPERATOR) or actor.organization_id == system.organization_id
    ):
        raise NotFound(f"信息系统 {data.system_id} 不存在", field="system_id")
    system = systems_service.system_for_use(
        db_session, actor=actor, organization_id=system.organization_id, system_id=system.id
    )
    org = _organization(db_session, system.organization_id)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken(
        organization_id=org.id,
        system_id=system.id,
        name=data.name,
        prefix=prefix,
        secret_hash=_sha256(secret),
        created_by=actor.label,
        created_at=now,
        expires_at=now + timedelta(days=data.valid_days),
    )
    db_session.add(token)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.api_token.issue",
        object_type="api_token",
        object_id=token.id,
        details={
            "organization_id": org.id,
            "system_id": system.id,
            "system_name": system.name,
            "name": data.name,
            "prefix": prefix,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, f"{TOKEN_PREFIX}{prefix}.{secret}"


def revoke_api_token(db_session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    """Revokes a token at once."""
    token = _visible_token(db_session, actor, token_id)
    if token.revoked_at is not None:
        raise Conflict("该令牌已吊销", field="token_id")
    token.revoked_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.api_token.revoke",
        object_type="api_token",
        object_id=token.id,
    )
    return token


def list_api_tokens(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[ApiToken]:
    """Returns tokens: all for the operator, one's own department's for its data officer."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="查看接口令牌")
    stmt = select(ApiToken).order_by(ApiToken.created_at.desc())
    if not actor.has(Role.PLATFORM_OPERATOR):
        stmt = stmt.where(ApiToken.organization_id == actor.organization_id)
    if organization_id is not None:
        stmt = stmt.where(ApiToken.organization_id == organization_id)
    return list(db_session.execute(stmt).scalars().all())


def _visible_token(db_session: Session, actor: Actor, token_id: int) -> ApiToken:
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="管理接口令牌")
    token = db_session.get(ApiToken, token_id)
    if token is None or (
        not actor.has(Role.PLATFORM_OPERATOR) and token.organization_id != actor.organization_id
    ):
        raise NotFound(f"令牌 {token_id} 不存在", field="token_id")
    return token


_TOKEN = ApiToken.__table__.c
# Every gateway and API call with a token runs this: the columns it needs, in a statement
# built once (its compiled form stays cached), not the ORM row and its joined organization.
_TOKEN_BY_PREFIX = select(
    _TOKEN.id,
    _TOKEN.organization_id,
    _TOKEN.prefix,
    _TOKEN.secret_hash,
    _TOKEN.revoked_at,
    _TOKEN.expires_at,
    _TOKEN.last_used_at,
).where(_TOKEN.prefix == bindparam("prefix"))


_TOUCH = (
    update(ApiToken.__table__)
    .where(_TOKEN.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)
# When this process last wrote a token's last-used time, by prefix (random, never reused);
# the cached row keeps the time it was read with.
_touched: dict[int, datetime] = {}


def _token_row(db_session: Session, prefix: str) -> Row[Any] | None:
    # On the session's connection: Session.execute's hooks would cost more than the query.
    return db_session.connection().execute(_TOKEN_BY_PREFIX, {"prefix": prefix}).first()


def resolve_api_token(db_session: Session, *, token: str, source_ip: str | None = None) -> Actor:
    """The system actor behind a bearer token; raises Unauthenticated with the reason. The
    token's row is kept per process under the cache stamp (core.stamp): a revocation in any
    process replaces the stamp, so the next call anywhere reads the row again."""
    if not token.startswith(TOKEN_PREFIX) or "." not in token:
        raise Unauthenticated("接口令牌格式错误")
    prefix, secret = token.removeprefix(TOKEN_PREFIX).split(".", 1)
    row = stamp.cache_for(db_session, "api_token").get(
        stamp.current(db_session), prefix, lambda: _token_row(db_session, prefix)
    )
    if row is None or not hmac.compare_digest(row.secret_hash, _sha256(secret)):
        raise Unauthenticated("接口令牌无效")
    now = clock.now()
    if row.revoked_at is not None:
        raise Unauthenticated("接口令牌已吊销")
    if row.expires_at <= now:
        raise Unauthenticated("接口令牌已过期")
    last_used = max(filter(None, (row.last_used_at, _touched.get(row.prefix))), default=None)
    if last_used is None or now - last_used > timedelta(minutes=1):
        # Core on the connection: bookkeeping, not a change the cache stamp marks.
        db_session.connection().execute(_TOUCH, {"token_id": row.id, "now": now})
        _touched[row.prefix] = now
    return Actor(
        label=f"token:{row.prefix}",
        roles=frozenset({Role.SYSTEM}),
        organization_id=row.organization_id,
        token_id=row.id,
        source_ip=source_ip,
    )
