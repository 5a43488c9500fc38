"""The navigation each role sees (a link is shown only where the role may act)."""

from __future__ import annotations

from govshare.core.permissions import Role
from govshare.web.deps import Viewer

# (label, url, roles that see it; empty = everyone signed in)
LINKS: list[tuple[str, str, tuple[Role, ...]]] = [
    ("首页", "/", ()),
    ("资源目录", "/catalog", ()),
    (
        "本单位目录",
        "/catalog/mine",
        (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF),
    ),
    ("目录审核", "/catalog/review", (Role.PLATFORM_OPERATOR, Role.AUTHORITY)),
    (
        "目录更新事项",
        "/catalog/changes",
        (
            Role.DATA_OFFICER,
            Role.DEPARTMENT_HEAD,
            Role.DEPARTMENT_STAFF,
            Role.PLATFORM_OPERATOR,
            Role.AUTHORITY,
        ),
    ),
    (
        "数据需求",
        "/catalog/needs",
        (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF, Role.PLATFORM_OPERATOR),
    ),
    (
        "信息化项目",
        "/catalog/projects",
        (
            Role.DATA_OFFICER,
            Role.DEPARTMENT_HEAD,
            Role.DEPARTMENT_STAFF,
            Role.PLATFORM_OPERATOR,
            Role.AUTHORITY,
        ),
    ),
    (
        "责任清单",
        "/catalog/responsibilities",
        (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF),
    ),
    ("组织机构", "/admin/organizations", (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)),
    ("用户管理", "/admin/users", (Role.PLATFORM_OPERATOR,)),
    (
        "本单位",
        "/my-organization",
        (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF),
    ),
    ("接口令牌", "/tokens", (Role.PLATFORM_OPERATOR, Role.DATA_OFFICER)),
    ("工作日历", "/calendar", ()),
    ("审计日志", "/audit", (Role.AUDITOR, Role.PLATFORM_OPERATOR, Role.AUTHORITY)),
]


def navigation(user: Viewer) -> list[tuple[str, str]]:
    roles = user.roles
    return [(label, url) for label, url, allowed in LINKS if not allowed or roles & set(allowed)]
