"""What the sharing pages share: the runtime's policy profile, form errors placed beside
their fields, a requested or granted scope (共享范围) as the pages show it, and the urgency
of an open review step (the queue's colours)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.policy import Profile
from govshare.sharing.models import Application, Grant
from govshare.sharing.service import deadlines
from govshare.sharing.service.common import load_filter, load_masking
from govshare.web.deps import runtime_of


def profile_of(request: Request) -> Profile:
    return runtime_of(request).profile


def placed(errors: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The errors with those a form has no place for moved to the form's top ("_")."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        if key == "_" or key.split(".")[0] in known:
            out.setdefault(key, message)
        else:
            out["_"] = f"{out['_']}；{message}" if "_" in out else message
    return out


@dataclass(frozen=True)
class Scope:
    """A requested or granted scope as the pages show it."""

    whole: bool
    fields: list[str]
    conditions: list[str]
    masks: list[str] | None  # None: an application, which requests no masking


def scope_of(item: Application | Grant) -> Scope:
    whole, masks = False, None
    if isinstance(item, Grant):
        whole, masks = item.whole_resource, [m.describe() for m in load_masking(item.masking)]
    return Scope(
        whole=whole,
        fields=list(item.fields),
        conditions=[c.describe() for c in load_filter(item.row_filter)],
        masks=masks,
    )


def urgencies(db_session: Session, items: list[Application]) -> dict[int, deadlines.Urgency]:
    """The open step's urgency (the queue's colours) per application id."""
    calendar, today = working_days.load(db_session), clock.today()
    out = {}
    for application in items:
        step = deadlines.open_step(application)
        if step is not None:
            out[application.id] = deadlines.urgency(step, calendar, today)
    return out
