"""The `govshare` command. Each domain contributes its sub-commands here, in one place.

A domain's CLI module is imported only when one of its commands runs: `govshare --help`
lists the commands from the table below, and `govshare workdays add` loads the calendar, not
the web application, the search index or the exchange engine. A test holds each line's help
text to the loaded command's own.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from govshare.core import cli_support


@dataclass(frozen=True)
class Entry:
    """A top-level command: where it lives, its help line, and whether it uses the database."""

    target: str  # "module:attribute", a Typer app (a command group) or a command function
    help: str
    database: bool = True


COMMANDS: dict[str, Entry] = {
    "worker": Entry(
        "govshare.exchange.cli:worker",
        "启动任务工作进程：按更新周期同步库表、推送前置库，执行目录变更生效、共享提醒等定时任务"
        "（可在多台服务器上各启动一个）。",
    ),
    "serve": Entry(
        "govshare.web.cli:serve",
        "启动平台（网页和接口）。定时任务（库表同步、目录变更生效、共享提醒）由 govshare worker 执行。",
    ),
    "demo": Entry(  # builds the database in its own data directory
        "govshare.web.cli:demo",
        "创建（仅首次）并启动示范城市：一个市、一个县、二十多个部门和各角色用户，以及数据交换和开放门户。",
        database=False,
    ),
    "db": Entry("govshare.core.cli:db_app", "数据库结构迁移", database=False),
    "policy": Entry("govshare.core.cli:policy_app", "政策配置（各市规则参数）", database=False),
    "audit": Entry("govshare.core.cli:audit_app", "审计日志：校验、导出、清理"),
    "backup": Entry(  # a database that is not there yet is refused, never created
        "govshare.backup.cli:app",
        "备份：平台数据库、数据资源中心、开放门户数据库、文件存储和密钥文件，附清单和校验和；校验备份。",
        database=False,
    ),
    "restore": Entry(  # writes into the target it is given, never the configured database
        "govshare.backup.cli:restore",
        "从备份恢复到空的数据目录和空数据库：先校验备份，再恢复各部分，核对各表行数和审计链。",
        database=False,
    ),
    "workdays": Entry("govshare.core.calendar.cli:app", "工作日：期限计算与节假日安排录入"),
    "org": Entry("govshare.identity.cli:org_app", "组织机构"),
    "user": Entry("govshare.identity.cli:user_app", "用户账户"),
    "catalog": Entry("govshare.catalog.cli:app", "资源目录：到期变更、导入导出、检索"),
    "sharing": Entry("govshare.sharing.cli:app", "资源共享：期限提醒、督办队列"),
    "exchange": Entry("govshare.exchange.cli:app", "数据交换：库表同步、同步记录"),
    "gateway": Entry(
        "govshare.exchange.gateway_cli:app",
        "服务网关数据面（nginx）：生成配置、检查并重新加载、把访问日志记入调用日志和审计日志",
    ),
    "opendata": Entry(
        "govshare.opendata.cli:app",
        "资源开放：发布到开放门户、开放发布清单、开放申请和数据开放需求",
    ),
    "supervision": Entry(
        "govshare.supervision.cli:app", "监督考核：可用性探测、违规监测、整改通知和通报"
    ),
    "evaluation": Entry(
        "govshare.evaluation.cli:app",
        "考核评价：计算考核得分和排名、发布年度考核结果、导出考核报告",
    ),
    "pki": Entry("govshare.pki.cli:app", "证书管理：证书签发机构、系统证书、证书吊销列表"),
    "federation": Entry(
        "govshare.federation.cli:app", "级联对接：本平台身份、上下级对接平台、级联消息"
    ),
    "portal": Entry(  # the internet side: reads GOVSHARE_PORTAL_* only, never the platform's
        "govshare.portal.cli:portal",
        "启动开放门户（面向公众，部署在互联网区）：只连接开放门户数据库 GOVSHARE_PORTAL_DATABASE_URL。",
        database=False,
    ),
}


def load(name: str) -> TyperCommand | TyperGroup:
    """The click command of the top-level command `name`, importing its module."""
    entry = COMMANDS[name]
    module, attribute = entry.target.split(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        command: Any = typer.main.get_group(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    if entry.database:
        for leaf in _leaves(command):
            leaf.callback = _database_first(leaf.callback)
    return command


def _leaves(command: Any) -> list[Any]:
    if isinstance(command, TyperGroup):
        return [leaf for sub in command.commands.values() for leaf in _leaves(sub)]
    return [command]


def _database_first(callback: Any) -> Any:
    """Runs the command once its arguments are parsed (not for --help), on a database that
    exists: the embedded SQLite database is created on a fresh data directory's first use."""

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from govshare.core import embedded
        from govshare.core.settings import get_settings

        # Asked without SQLAlchemy, so that a command that needs no engine starts fast.
        path = embedded.database_file(get_settings())
        if path is not None and not embedded.has_schema(path):
            from govshare.core.runtime import get_runtime, migrate_on_first_use

            if migrate_on_first_use(get_runtime()):
                cli_support.say(f"已创建数据库 {path}（首次使用）")
        return callback(*args, **kwargs)

    return wrapper


class LazyGroup(TyperGroup):
    """The root group: lists commands from `COMMANDS`, imports one only to run it, and turns
    any unexpected failure into one line (see `cli_support.fail`)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        # For the help listing: a stand-in with the help line. Running resolves the real one.
        return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name].help)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS:
            return args[0], load(args[0]), args[1:]
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            cli_support.fail(exc)


app = typer.Typer(
    cls=LazyGroup,
    help="govshare — 政务信息资源共享交换平台",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="出错时显示完整的调用栈（也可设置 GOVSHARE_DEBUG=1）")
    ] = False,
) -> None:
    """govshare — 政务信息资源共享交换平台"""
    cli_support.set_debug(debug)


def main() -> None:
    app(prog_name="govshare")


if __name__ == "__main__":
    sys.exit(main())
