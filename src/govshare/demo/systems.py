"""The demo's information systems register (信息系统目录): each department's systems, their
connection to the platform and their private lines, from `data/systems.yaml`, registered by
each department's data officer. The sharing replay names these systems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.systems import service as systems_service
from govshare.systems.schemas import ConnectionIn, LineClosureIn, PrivateLineIn, SystemIn

DATA = Path(__file__).parent / "data" / "systems.yaml"


def _officer(db_session: Session, key: str) -> Actor:
    user = db_session.execute(select(User).where(User.username == f"{key}_officer")).scalar_one()
    return actor_for_user(user)


def build(db_session: Session, actor: Actor) -> None:
    """Registers the systems of `data/systems.yaml`; the console `actor` does not act."""
    today = clock.today()
    departments: dict[str, list[dict[str, Any]]] = yaml.safe_load(DATA.read_text("utf-8"))
    for key, systems in departments.items():
        officer = _officer(db_session, key)
        for spec in systems:
            system = systems_service.register_system(
                db_session,
                actor=officer,
                data=SystemIn(
                    name=spec["name"],
                    purpose=spec["purpose"],
                    owner=spec["owner"],
                    level=spec["level"],
                ),
            )
            if "connected_days_ago" in spec:
                systems_service.record_connection(
                    db_session,
                    actor=officer,
                    system_id=system.id,
                    data=ConnectionIn(
                        connected_on=today - timedelta(days=spec["connected_days_ago"]),
                        note="经前置交换库和服务接口接入",
                    ),
                )
            for line in spec.get("lines", []):
                added = systems_service.add_private_line(
                    db_session,
                    actor=officer,
                    system_id=system.id,
                    data=PrivateLineIn(
                        peer=line["peer"],
                        description=line["description"],
                        planned_close_on=today + timedelta(days=line["close_in_days"]),
                    ),
                )
                if "closed_days_ago" in line:
                    systems_service.close_private_line(
                        db_session,
                        actor=officer,
                        line_id=added.id,
                        data=LineClosureIn(
                            closed_on=today - timedelta(days=line["closed_days_ago"]),
                            note="已改由共享平台的资源提供",
                        ),
                    )
