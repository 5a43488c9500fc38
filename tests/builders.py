"""Small builders for test data. Everything goes through the services, so every row the
tests stand on was checked and audited like real data."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor, Role
from govshare.core.uscc import check_character
from govshare.identity import service as identity_service
from govshare.identity.models import Level, Organization, User
from govshare.identity.schemas import OrganizationIn, UserIn

PASSWORD = "secret2026"
CONSOLE = Actor.command_line("test")
_serial = itertools.count(1)


def credit_code(authority: str = "1", kind: str = "1", region: str = "360100") -> str:
    """A valid unified social credit code, different on every call."""
    first17 = f"{authority}{kind}{region}{next(_serial):09d}"
    return first17 + check_character(first17)


def organization(
    db: Session, name: str | None = None, *, actor: Actor = CONSOLE, **kw: Any
) -> Organization:
    """A city department with a fresh credit code; `kw` overrides any OrganizationIn field."""
    fields: dict[str, Any] = {"level": Level.CITY, "uscc": credit_code()}
    fields |= kw
    fields["name"] = name or f"测试局{next(_serial)}"
    return identity_service.create_organization(db, actor=actor, data=OrganizationIn(**fields))


def user(
    db: Session,
    org: Organization,
    roles: Iterable[Role] = (Role.DEPARTMENT_STAFF,),
    username: str | None = None,
    *,
    password: str = PASSWORD,
    actor: Actor = CONSOLE,
) -> User:
    """An active account in `org` holding `roles`."""
    data = UserIn(
        username=username or f"user{next(_serial)}",
        real_name="测试用户",
        mobile="13800138000",
        organization_id=org.id,
        roles=list(roles),
        password=password,
    )
    return identity_service.create_user(db, actor=actor, data=data)


def operator(db: Session) -> tuple[Actor, User]:
    """The platform operator (an organisation of their own and an account), as an actor."""
    org = organization(db, "平台管理单位")
    account = user(db, org, [Role.PLATFORM_OPERATOR], "operator")
    return actor_of(account), account


def actor_of(account: User) -> Actor:
    """The actor a signed-in `account` acts as."""
    return identity_service.actor_for_user(account)


def count(db: Session, model: type) -> int:
    """Rows in `model`'s table, as the database sees them now."""
    return db.execute(select(func.count()).select_from(model)).scalar_one()


def system_of(db: Session, organization_id: int | None, name: str = "社会救助信息系统") -> int:
    """The id of `organization_id`'s registered information system `name`, registered on
    first use (applications, grants and tokens name a registered system)."""
    from govshare.systems import service as systems_service
    from govshare.systems.models import InformationSystem
    from govshare.systems.schemas import SystemIn

    assert organization_id is not None
    found = db.execute(
        select(InformationSystem.id).where(
            InformationSystem.organization_id == organization_id, InformationSystem.name == name
        )
    ).scalar()
    if found is not None:
        return found
    data = SystemIn(
        organization_id=organization_id, name=name, purpose="承载本单位业务办理", owner="信息科"
    )
    return systems_service.register_system(db, actor=CONSOLE, data=data).id
