"""The `govshare` command. Each domain contributes its sub-commands here, in one place."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from govshare.core.db import AuditMissing
from govshare.core.errors import ConfigError, DomainError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    help="govshare — 政务信息资源共享交换平台",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def fails_cleanly(func: F) -> F:
    """Turns domain and configuration errors into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DomainError, ConfigError) as exc:
            field = getattr(exc, "field", None)
            err.print(f"错误: {field + ': ' if field else ''}{exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except AuditMissing as exc:  # a bug, but never a silent one
            err.print(f"内部错误: {exc}", markup=False)
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]


def _register() -> None:
    from govshare.catalog import cli as catalog_cli
    from govshare.core import cli as core_cli
    from govshare.core.calendar import cli as calendar_cli
    from govshare.exchange import cli as exchange_cli
    from govshare.identity import cli as identity_cli
    from govshare.sharing import cli as sharing_cli
    from govshare.web import cli as web_cli

    app.add_typer(core_cli.db_app, name="db")
    app.add_typer(core_cli.policy_app, name="policy")
    app.add_typer(core_cli.audit_app, name="audit")
    app.add_typer(calendar_cli.app, name="workdays")
    app.add_typer(identity_cli.org_app, name="org")
    app.add_typer(identity_cli.user_app, name="user")
    app.add_typer(catalog_cli.app, name="catalog")
    app.add_typer(sharing_cli.app, name="sharing")
    app.add_typer(exchange_cli.app, name="exchange")
    app.command("worker")(exchange_cli.worker)
    web_cli.register(app)


def main() -> None:
    _register()
    app(prog_name="govshare")


if __name__ == "__main__":
    sys.exit(main())
