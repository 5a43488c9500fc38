"""Platform-wide API routes: health, the caller's identity, the active policy profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from govshare import __version__
from govshare.core import policy
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(tags=["平台"])


@router.get("/health", summary="健康检查")
def health(request: Request, db_session: DB) -> dict[str, Any]:
    db_session.execute(text("SELECT 1"))
    runtime = runtime_of(request)
    return {
        "status": "ok",
        "version": __version__,
        "database": runtime.engine.dialect.name,
        "policy_profile": runtime.profile.code,
    }


@router.get("/me", summary="当前身份")
def me(actor: SignedIn) -> dict[str, Any]:
    return {
        "label": actor.label,
        "roles": sorted(actor.roles),
        "user_id": actor.user_id,
        "organization_id": actor.organization_id,
        "token_id": actor.token_id,
    }


@router.get("/policy", summary="当前生效的政策配置")
def active_policy(request: Request, actor: SignedIn) -> policy.Profile:
    return runtime_of(request).profile
