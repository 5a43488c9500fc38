"""How applications are listed and shown: a department's own applications, those waiting
for its decision, and an application with its review steps as the API returns it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor, own_organization, require
from govshare.sharing.models import (
    Application,
    ApplicationState,
)
from govshare.sharing.schemas import (
    ApplicationOut,
    DeadlineOut,
    StepOut,
)
from govshare.sharing.service import deadlines
from govshare.sharing.service.common import (
    READERS,
)


def my_applications(db_session: Session, *, actor: Actor) -> list[Application]:
    """The applications the actor's department made, newest first."""
    require(actor, *READERS, action="查看共享申请")
    org_id = own_organization(actor)
    return list(
        db_session.execute(
            select(Application)
            .where(Application.consumer_id == org_id)
            .order_by(Application.id.desc())
        ).scalars()
    )


def to_decide(db_session: Session, *, actor: Actor) -> list[Application]:
    """Applications for the actor's department's resources: waiting ones first by deadline,
    then the answered ones, newest first."""
    require(actor, *READERS, action="查看待答复的共享申请")
    org_id = own_organization(actor)
    rows = list(
        db_session.execute(
            select(Application)
            .where(
                Application.provider_id == org_id,
                Application.state.in_(
                    (
                        ApplicationState.DECIDING,
                        ApplicationState.APPROVED,
                        ApplicationState.REFUSED,
                        ApplicationState.CLOSED,
                    )
                ),
            )
            .order_by(Application.id.desc())
        ).scalars()
    )
    waiting = [a for a in rows if a.state is ApplicationState.DECIDING]
    waiting.sort(key=lambda a: (deadlines.open_step(a) or a.steps[-1]).due_on)
    return waiting + [a for a in rows if a.state is not ApplicationState.DECIDING]


def steps_out(application: Application) -> list[StepOut]:
    return [
        StepOut(
            kind=s.kind.value,
            kind_label=s.kind.label,
            answerer=s.organization.name if s.organization else "平台管理单位",
            days=s.days,
            started_on=s.started_on,
            started=s.started,
            due=DeadlineOut(
                on=s.due_on,
                provisional=s.due_provisional,
                label=deadlines.deadline(s).label,
            ),
            finished_on=s.finished_on,
            outcome=s.outcome.value if s.outcome else None,
            comment=s.comment,
            overdue=s.late,
        )
        for s in application.steps
    ]


def application_out(application: Application) -> ApplicationOut:
    return ApplicationOut(
        id=application.id,
        number=application.number,
        kind=application.kind.value,
        state=application.state.value,
        state_label=application.state.label,
        resource_id=application.resource_id,
        resource_code=application.resource.code,
        resource_name=application.version.name,
        version=application.version.number,
        consumer=application.consumer.name,
        provider=application.provider.name,
        purpose=application.purpose,
        system_id=application.system_id,
        system_name=application.system_name,
        fields=application.fields,
        row_filter=application.row_filter,
        valid_from=application.valid_from,
        valid_until=application.valid_until,
        profile_code=application.profile_code,
        required_attachments=application.required_attachments,
        attachments=[
            {"id": a.id, "kind": a.kind, "filename": a.filename, "size": a.size, "sha256": a.sha256}
            for a in application.attachments
        ],
        submitted_at=application.submitted_at,
        steps=steps_out(application),
        decision_reason=application.decision_reason,
        decision_basis=application.decision_basis,
        conditions=application.conditions,
        grant_id=application.grant_id,
    )
