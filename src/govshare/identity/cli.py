"""CLI for bootstrapping a city: organisations and the first operator account."""

from __future__ import annotations

from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.errors import Invalid
from govshare.core.permissions import Role
from govshare.core.runtime import get_runtime
from govshare.identity import schemas
from govshare.identity import service as identity_service
from govshare.identity.models import Level, OrganizationKind

M = TypeVar("M", bound=BaseModel)
out = Console(highlight=False)
org_app = typer.Typer(help="组织机构", no_args_is_help=True)
user_app = typer.Typer(help="用户账户", no_args_is_help=True)


@org_app.command("add")
@fails_cleanly
def org_add(
    name: Annotated[str, typer.Argument(help="全称")],
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")],
    level: Annotated[Level, typer.Option(help="层级")] = Level.CITY,
    kind: Annotated[OrganizationKind, typer.Option(help="类别")] = OrganizationKind.GOVERNMENT,
    short_name: Annotated[str | None, typer.Option(help="简称")] = None,
    parent_id: Annotated[int | None, typer.Option(help="上级机构编号")] = None,
) -> None:
    """登记组织机构。"""
    data = _validated(
        schemas.OrganizationIn,
        name=name,
        uscc=uscc,
        level=level,
        kind=kind,
        short_name=short_name,
        parent_id=parent_id,
    )
    with get_runtime().transaction() as session:
        org = identity_service.create_organization(session, actor=console_actor(), data=data)
        out.print(f"已登记 {org.name}（编号 {org.id}）")


@org_app.command("list")
@fails_cleanly
def org_list() -> None:
    """列出组织机构。"""
    with get_runtime().transaction() as session:
        orgs = identity_service.list_organizations(session, actor=console_actor())
        table = Table("编号", "名称", "统一社会信用代码", "层级")
        for org in orgs:
            table.add_row(str(org.id), org.name, org.uscc, Level(org.level).label)
    out.print(table)


@user_app.command("add")
@fails_cleanly
def user_add(
    username: Annotated[str, typer.Argument(help="用户名")],
    real_name: Annotated[str, typer.Option(help="真实姓名")],
    mobile: Annotated[str, typer.Option(help="手机号")],
    organization_id: Annotated[int, typer.Option(help="所属单位编号")],
    role: Annotated[list[Role], typer.Option(help="角色，可重复")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="初始密码")
    ],
) -> None:
    """创建用户（例如城市上线时的第一个平台管理员）。"""
    data = _validated(
        schemas.UserIn,
        username=username,
        real_name=real_name,
        mobile=mobile,
        organization_id=organization_id,
        roles=role,
        password=password,
    )
    with get_runtime().transaction() as session:
        user = identity_service.create_user(session, actor=console_actor(), data=data)
        out.print(f"已创建用户 {user.username}（编号 {user.id}）")


def _validated(model: type[M], **values: object) -> M:
    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise Invalid(str(error["msg"]).removeprefix("Value error, "), field=field) from None
