"""Theme catalogs over the API."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from govshare.catalog.models import Theme
from govshare.catalog.schemas import ThemeIn
from govshare.catalog.service import themes
from govshare.core.inputs import Id
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/catalog", tags=["资源目录"])


class ThemeOut(BaseModel):
    id: int
    name: str
    description: str
    lead_organization_id: int
    contributor_ids: list[int]
    published_resources: int = 0


def _out(theme: Theme, count: int = 0) -> ThemeOut:
    return ThemeOut(
        id=theme.id,
        name=theme.name,
        description=theme.description,
        lead_organization_id=theme.lead_organization_id,
        contributor_ids=sorted(c.organization_id for c in theme.contributor_rows),
        published_resources=count,
    )


@router.get("/themes", summary="主题目录")
def theme_list(db_session: DB, actor: SignedIn) -> list[ThemeOut]:
    return [_out(t, n) for t, n in themes.list_themes(db_session, actor=actor)]


@router.post("/themes", status_code=201, summary="设立主题目录")
def theme_create(db_session: DB, actor: SignedIn, data: ThemeIn) -> ThemeOut:
    return _out(themes.create_theme(db_session, actor=actor, data=data))


@router.put("/themes/{theme_id}", summary="修改主题目录")
def theme_update(db_session: DB, actor: SignedIn, theme_id: Id, data: ThemeIn) -> ThemeOut:
    return _out(themes.update_theme(db_session, actor=actor, theme_id=theme_id, data=data))
