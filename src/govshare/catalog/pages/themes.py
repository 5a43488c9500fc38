"""Theme catalog pages (主题目录): every signed-in user sees the list; the operator sets
themes up and changes their members."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.catalog.schemas import ThemeIn
from govshare.catalog.service import themes
from govshare.core.errors import DomainError
from govshare.core.inputs import parse_id
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor
from govshare.web.forms import PostedForm, field_errors
from govshare.web.templating import redirect, render

router = APIRouter()


def _context(db_session: DB, actor: Actor, **extra: object) -> dict[str, object]:
    is_operator = actor.has(Role.PLATFORM_OPERATOR)
    return {
        "themes": themes.list_themes(db_session, actor=actor),
        "is_operator": is_operator,
        "organizations": identity_service.list_organizations(db_session, actor=actor)
        if is_operator
        else [],
        "form": {},
        "errors": {},
        **extra,
    }


@router.get("/catalog/themes", response_class=HTMLResponse)
def theme_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "catalog/themes.html", _context(db_session, actor))


@router.post("/catalog/themes", response_class=HTMLResponse)
async def theme_create(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    posted = await request.form()
    contributors = [
        found for v in posted.getlist("contributor_ids") if (found := parse_id(v)) is not None
    ]
    try:
        data = ThemeIn(
            name=form.get("name", ""),
            description=form.get("description", ""),
            lead_organization_id=form.get("lead_organization_id") or 0,
            contributor_ids=contributors,
        )
        theme = themes.create_theme(db_session, actor=actor, data=data)
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        errors = field_errors(exc)
        context = _context(
            db_session, actor, form={**form, "contributor_ids": contributors}, errors=errors
        )
        return render(request, "catalog/themes.html", context, 422)
    return redirect("/catalog/themes", f"已设立主题目录：{theme.name}")
