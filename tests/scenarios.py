"""What an audit scenario is (see tests/test_audit_coverage.py). Each domain lists its own in
`tests/<domain>/audit_scenarios.py` as a dict named SCENARIOS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govshare.core.permissions import Actor
from govshare.identity.models import Organization, User
from tests.builders import actor_of


@dataclass
class World:
    """An operator, a department and one of its staff, committed before the scenario."""

    db: Session
    op: Actor
    dept: Organization
    staff: User
    prepared: Any = None  # what a reader's `prepare` built

    @property
    def staff_actor(self) -> Actor:
        return actor_of(self.staff)


@dataclass(frozen=True)
class Writes:
    """A writer: `call` changes data and must record an entry whose action starts so."""

    action: str
    call: Callable[[World], Any]


@dataclass(frozen=True)
class Reads:
    """A reader or helper; `call`, where given, must leave every table as it was."""

    call: Callable[[World], Any] | None = None
    prepare: Callable[[World], Any] | None = None  # runs before the snapshot; see World.prepared


READ_ONLY = Reads()  # a pure helper on values: no session, nothing to check
