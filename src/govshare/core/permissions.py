"""Who is acting (`Actor`) and the role checks every service function starts with.

Deny by default: a service function names the roles that may call it; everything else is
refused. Data access additionally needs a grant (sharing domain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from govshare.core.errors import Forbidden, Invalid


class Role(StrEnum):
    """Roles of people and systems on the platform."""

    PLATFORM_OPERATOR = "platform_operator"  # 平台管理单位
    AUTHORITY = "authority"  # 主管部门
    DATA_OFFICER = "data_officer"  # 数据专员
    DEPARTMENT_HEAD = "department_head"  # 部门负责人
    DEPARTMENT_STAFF = "department_staff"  # 部门工作人员
    AUDITOR = "auditor"  # 审计员
    SYSTEM = "system"  # a department's information system calling with an API token

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PLATFORM_OPERATOR: "平台管理员",
    Role.AUTHORITY: "主管部门",
    Role.DATA_OFFICER: "数据专员",
    Role.DEPARTMENT_HEAD: "部门负责人",
    Role.DEPARTMENT_STAFF: "部门工作人员",
    Role.AUDITOR: "审计员",
    Role.SYSTEM: "接入系统",
}

PERSON_ROLES = tuple(r for r in Role if r is not Role.SYSTEM)
GOVERNMENT_ROLES = frozenset(PERSON_ROLES)


@dataclass(frozen=True)
class Actor:
    """The acting user, system token or command line, as every service function receives it."""

    label: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    user_id: int | None = None
    organization_id: int | None = None
    token_id: int | None = None
    source_ip: str | None = None

    @classmethod
    def command_line(cls, label: str = "cli") -> Actor:
        """The operator at the server's console: trusted like a platform operator."""
        return cls(label=f"console:{label}", roles=frozenset({Role.PLATFORM_OPERATOR}))

    @classmethod
    def anonymous(cls, source_ip: str | None = None) -> Actor:
        """A visitor who has not signed in (the public)."""
        return cls(label="anonymous", source_ip=source_ip)

    @property
    def is_authenticated(self) -> bool:
        return bool(self.roles)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def own_organization(actor: Actor) -> int:
    """The actor's department; a person or system outside every department is refused."""
    if actor.organization_id is None:
        raise Invalid("当前用户不属于任何部门", field="organization_id")
    return actor.organization_id


def require(actor: Actor, *roles: Role, action: str = "执行此操作") -> None:
    """Refuse unless the actor holds one of `roles`."""
    if not actor.has(*roles):
        raise Forbidden(f"当前身份无权{action}")
