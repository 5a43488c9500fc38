"""What every `govshare` command shares: one-line failures, the console's actor, date input.

Kept apart from `govshare.cli` (which registers the domain CLIs) so that a domain CLI never
imports the module that imports it, and light enough that `govshare --help` and the calendar
commands load nothing they do not use: database and alembic modules are imported only when a
failure needs them.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from govshare.core.errors import ConfigError, DomainError, Invalid
from govshare.core.permissions import Actor

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2  # the operator can fix it: bad input, a setting, a step to run first
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug or an unforeseen state

_debug = False


def set_debug(enabled: bool) -> None:
    """`--debug`: unexpected errors show their traceback instead of one line."""
    global _debug
    _debug = enabled


def debugging() -> bool:
    return _debug or os.environ.get("GOVSHARE_DEBUG", "").lower() in ("1", "true", "yes", "on")


def console_actor() -> Actor:
    """The person at the server's console, named in the audit log."""
    return Actor.command_line(getpass.getuser())


def parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"日期格式应为 YYYY-MM-DD，收到 {value!r}", field=name) from None


@functools.cache
def read_text(path: Path, name: str) -> str:
    """A UTF-8 file the operator named on the command line (a PEM, a CSR); a clear error
    naming the option when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"无法读取 {path}：{exc}", field=name) from None


def err_console() -> Console:
    """The console on stderr (rich is imported only by a command that prints through it)."""
    from rich.console import Console

    return Console(stderr=True)


def __getattr__(name: str) -> Any:
    if name == "err":  # `from govshare.core.cli_support import err`, created on first use
        return err_console()
    raise AttributeError(name)


def say(message: str) -> None:
    """One line on stderr, printed as is (quoted input may look like markup)."""
    typer.echo(message, err=True)


def fail(exc: Exception) -> NoReturn:
    """Ends the command for `exc` with one line on stderr and an exit code saying whose
    move it is: 2 when the operator can act (input, setting, a step to run first), 70 for
    a bug. With `--debug` or GOVSHARE_DEBUG=1 an unexpected error shows its traceback."""
    if isinstance(exc, (DomainError, ConfigError)):
        field = getattr(exc, "field", None)
        say(f"错误: {field + ': ' if field else ''}{exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if "pydantic" in sys.modules:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):  # an option a schema refused: the user's to fix
            from govshare.core.inputs import message_of

            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            say(f"错误: {field + ': ' if field else ''}{message_of(error)}")
            raise typer.Exit(EXIT_USAGE) from None
    database_problem = _database_problem(exc)
    if database_problem:
        say(database_problem)
        raise typer.Exit(EXIT_USAGE) from None
    if debugging():
        raise exc
    from govshare.core.db import AuditMissing

    kind = "内部错误" if isinstance(exc, AuditMissing) else f"内部错误（{type(exc).__name__}）"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    say(f"{kind}: {detail}（加 --debug 或设置 GOVSHARE_DEBUG=1 可显示详细信息）")
    raise typer.Exit(EXIT_INTERNAL) from None


def fails_cleanly(func: F) -> F:
    """Turns any failure of a command into one line on stderr (see `fail`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            fail(exc)

    return wrapper  # type: ignore[return-value]


def _database_problem(exc: Exception) -> str | None:
    """The step to run first when `exc` comes from a database that is missing, unreachable or
    behind the code's schema; None when the database is not the cause."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    from govshare.core import migrate
    from govshare.core.runtime import get_runtime

    try:
        current = migrate.is_current(get_runtime().engine)
    except DBAPIError as unreachable:
        reason = str(unreachable.orig).strip().splitlines()[0] if unreachable.orig else ""
        url = get_runtime().engine.url.render_as_string(hide_password=True)
        return f"错误: 无法连接数据库 {url}: {reason}（检查 GOVSHARE_DATABASE_URL）"
    if not current:
        return "错误: 数据库结构尚未建立或不是最新版本，请先运行 govshare db upgrade"
    return None
