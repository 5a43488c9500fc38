"""The source directories page (源库目录): the platform operator assigns each department the
directory its embedded SQLite source databases must live in, over the same service as
`PUT /api/v1/exchange/source-directories/{organization_id}`; a department sees its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.exchange.service import source_directories
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors
from govshare.web.templating import redirect, render

router = APIRouter()
PAGE = "/exchange/source-directories"


def _context(
    request: Request,
    db_session: Session,
    actor: Actor,
    *,
    typed: dict[int, str] | None = None,
    errors: dict[int, str] | None = None,
) -> dict[str, Any]:
    assigned = {
        d.organization_id: d
        for d in source_directories.list_source_directories(db_session, actor=actor)
    }
    overseer = actor.has(*source_directories.OVERSEERS)
    organizations = (
        identity_service.list_organizations(db_session, actor=actor)
        if overseer
        else [d.organization for d in assigned.values()]
    )
    return {
        "rows": [(org, assigned.get(org.id)) for org in organizations],
        "own_org": actor.organization_id,
        "can_assign": actor.has(*source_directories.ASSIGNERS),
        "data_dir": str(runtime_of(request).settings.data_dir),
        "typed": typed or {},
        "errors": errors or {},
    }


@router.get(PAGE, response_class=HTMLResponse)
def source_directory_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "exchange/source_directories.html", _context(request, db_session, actor))


@router.post(PAGE + "/{organization_id}", response_class=HTMLResponse)
def source_directory_assign(
    request: Request, db_session: DB, actor: PageActor, organization_id: Id, form: PostedForm
) -> Response:
    """Assigns or moves a department's directory; a refusal is shown beside its row."""
    path = str(form.get("path", ""))
    try:
        assigned = source_directories.assign_source_directory(
            db_session,
            actor=actor,
            settings=runtime_of(request).settings,
            organization_id=organization_id,
            path=path,
        )
    except DomainError as exc:
        db_session.rollback()
        message = field_errors(exc).get("path") or exc.message
        context = _context(
            request,
            db_session,
            actor,
            typed={organization_id: path},
            errors={organization_id: message},
        )
        return render(request, "exchange/source_directories.html", context, exc.status)
    name = assigned.organization.short_name or assigned.organization.name
    return redirect(PAGE, f"已为{name}分配源库目录 {assigned.path}")
