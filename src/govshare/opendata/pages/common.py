"""What the open-data pages of the public's applications and requests share: a deadline as
the pages show it (its date and the working days left, counted by the working-day calendar
as the sharing pages count theirs), an applicant's identity as officials may see it, and the
delivery of answers to the portal right after they are given."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from govshare.core.calendar import Deadline, WorkingCalendar
from govshare.exchange.masking import Mask, mask_value
from govshare.opendata import jobs
from govshare.portal.db import PortalDatabase
from govshare.sharing.models import MaskRule
from govshare.web.deps import runtime_of

log = logging.getLogger(__name__)
Deliver = Callable[..., int]  # public.deliver, requests.deliver_requests


@dataclass(frozen=True)
class Due:
    """A deadline on a page: its date, whether it is provisional, and the working days left
    (negative past it)."""

    on: date
    provisional: bool
    left: int
    overdue: bool

    @property
    def label(self) -> str:
        return Deadline(on=self.on, provisional=self.provisional).label


def due(calendar: WorkingCalendar, today: date, on: date, provisional: bool, overdue: bool) -> Due:
    """The deadline `on` seen from `today`; `overdue` as the service decides it."""
    return Due(on, provisional, calendar.working_days_between(today, on), overdue)


def identity_code(kind: str, code: str) -> str:
    """An applicant's identifying code as the platform's pages show it: a person's ID number
    masked as the exchange masks one (110105********002X); an organisation's unified social
    credit code, which is public, as it is."""
    if kind == "organization" or not code:
        return code
    return str(mask_value(code, Mask(MaskRule.ID_NUMBER), key=b""))


def deliver_now(request: Request, db_session: Session, deliver: Deliver) -> str:
    """Deliver what waits for the portal at once, as the minute job would (its actor); the
    message for the page. If the portal cannot be reached, the answer stays given and the
    delivery's own changes are undone, so that the minute job delivers it later."""
    portal: PortalDatabase = runtime_of(request).portal
    try:
        with db_session.begin_nested():
            deliver(db_session, actor=jobs.APPLICATIONS, portal=portal)
    except SQLAlchemyError:
        log.warning("the portal could not be reached; delivery is left to the minute job")
        return "开放门户暂时无法连接，平台将自动重试送达"
    return "已送达开放门户"
