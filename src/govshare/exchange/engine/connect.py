"""Opening DBAPI connections from SQLAlchemy URLs, and turning driver errors into Chinese
messages a clerk can act on, with the password never in them.

The engine talks to the drivers directly (psycopg, PyMySQL, sqlite3): COPY, server-side
cursors and transaction control are what it needs, and SQLAlchemy's pool would only hide them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from govshare.exchange.engine.model import (
    ConnectionFailed,
    EngineError,
    SourceFailed,
    TargetFailed,
)
from govshare.exchange.masking import register_sqlite_functions

DIALECTS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


@dataclass(frozen=True)
class Dsn:
    """A parsed URL: the dialect, where it points (for messages) and the driver's arguments."""

    dialect: str
    where: str
    password: str
    args: dict[str, Any]


def parse(url: str) -> Dsn:
    """The connection arguments of a SQLAlchemy URL; ValueError for a URL we cannot use."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("database URL is not a valid SQLAlchemy URL") from None
    dialect = DIALECTS.get(parsed.get_backend_name())
    if dialect is None:
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}")
    password = parsed.password or ""
    if dialect == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("a SQLite URL must name a database file")
        return Dsn(dialect, parsed.database, "", {"database": parsed.database})
    host = parsed.host or "localhost"
    where = f"{host}:{parsed.port or ('5432' if dialect == 'postgresql' else '3306')}"
    where += f"/{parsed.database or ''}"
    args: dict[str, Any] = {"host": host, "user": parsed.username or ""}
    if parsed.port:
        args["port"] = parsed.port
    if password:
        args["password"] = password
    if dialect == "postgresql":
        args["dbname"] = parsed.database or ""
        args.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
    else:
        args["database"] = parsed.database or ""
    return Dsn(dialect, where, password, args)


def _scrub(text: str, dsn: Dsn) -> str:
    text = " ".join(text.split())
    return text.replace(dsn.password, "***") if dsn.password else text


def _connect_reason(detail: str) -> str:
    lowered = detail.lower()
    reasons = [
        (("password authentication", "access denied", "authentication failed"), "用户名或密码错误"),
        (("does not exist", "unknown database"), "数据库不存在"),
        (("refused",), "连接被拒绝，请确认数据库服务已启动、地址和端口正确"),
        (("timeout", "timed out"), "连接超时"),
        (
            ("name or service not known", "could not translate host", "getaddrinfo"),
            "无法解析主机名",
        ),
        (("unable to open", "no such file"), "数据库文件不存在或无法打开"),
    ]
    for needles, reason in reasons:
        if any(n in lowered for n in needles):
            return reason
    return "连接失败"


def connection_failed(exc: BaseException, dsn: Dsn) -> ConnectionFailed:
    """A driver's connection error as a clerk-readable ConnectionFailed."""
    detail = _scrub(str(exc), dsn)
    return ConnectionFailed(f"无法连接数据库 {dsn.where}：{_connect_reason(detail)}", detail=detail)


DRIVER_ERRORS = (psycopg.Error, pymysql.Error, sqlite3.Error, OSError)


def _sql_reason(detail: str) -> str:
    lowered = detail.lower()
    reasons = [
        (("unknown column", "no such column", 'column "'), "字段不存在"),
        (("does not exist", "doesn't exist", "no such table", "unknown table"), "表或视图不存在"),
        (("permission denied", "command denied", "access denied"), "没有访问权限"),
        (("syntax",), "查询语句有语法错误"),
        (("server closed", "lost connection", "gone away", "terminat"), "与数据库的连接中断"),
        (("no space", "disk full"), "磁盘空间不足"),
        (("deadlock", "lock wait", "lock timeout"), "数据被其他操作锁定"),
    ]
    for needles, reason in reasons:
        if any(n in lowered for n in needles):
            return reason
    return "数据库报错"


@contextlib.contextmanager
def translating(role: str, dsn: Dsn) -> Iterator[None]:
    """Driver errors raised inside become SourceFailed / TargetFailed with a Chinese message;
    EngineErrors pass through untouched (a source error surfacing in the target's loop keeps
    its own role)."""
    try:
        yield
    except EngineError:
        raise
    except DRIVER_ERRORS as exc:
        detail = _scrub(str(exc), dsn)
        first = detail.splitlines()[0][:300] if detail else type(exc).__name__
        if role == "source":
            raise SourceFailed(
                f"读取源数据失败（{dsn.where}）：{_sql_reason(detail)}。{first}", detail=detail
            ) from exc
        raise TargetFailed(
            f"写入目标库失败（{dsn.where}）：{_sql_reason(detail)}。{first}", detail=detail
        ) from exc


def pg(dsn: Dsn, *, timeout: float = 10) -> psycopg.Connection[Any]:
    """A psycopg connection, not in autocommit, with the session settings COPY text depends
    on: ISO dates and UTC, so timestamps and timestamptz read the same everywhere."""
    try:
        conn = psycopg.connect(**dsn.args, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        raise connection_failed(exc, dsn) from exc
    conn.execute(
        "SET DateStyle = ISO, YMD; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; "
        "SET extra_float_digits = 1; SET standard_conforming_strings = on"
    )
    conn.commit()
    return conn


def mysql(dsn: Dsn, *, streaming: bool = False, timeout: float = 10) -> pymysql.Connection:
    """A PyMySQL connection in utf8mb4 and UTC. `streaming` returns rows as raw bytes through
    an unbuffered cursor, which is what the COPY-line query wants: no per-value decoding."""
    cursor = pymysql.cursors.SSCursor if streaming else pymysql.cursors.Cursor
    args = dict(dsn.args)
    if isinstance(args.get("password"), str):  # PyMySQL would encode it as Latin-1 and fail
        args["password"] = args["password"].encode()
    try:
        conn = pymysql.connect(
            **args,
            charset="utf8mb4",
            use_unicode=not streaming,
            cursorclass=cursor,
            connect_timeout=timeout,
            autocommit=False,
            init_command="SET time_zone = '+00:00'",
        )
    except pymysql.Error as exc:
        raise connection_failed(exc, dsn) from exc
    return conn


def sqlite(dsn: Dsn, *, must_exist: bool, timeout: float = 30) -> sqlite3.Connection:
    """A sqlite3 connection in manual transaction mode; a source must already exist."""
    path = Path(dsn.args["database"])
    if must_exist and not path.is_file():
        raise ConnectionFailed(f"无法连接数据库 {dsn.where}：数据库文件不存在")
    try:
        # The path is quoted, so no character of it becomes a URI parameter; a source is
        # opened read-only and never through a link swapped in after it was checked.
        mode = "ro&nofollow=1" if must_exist else "rwc"
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode={mode}"
        # An incremental run reads its source in a second thread, never two threads at once.
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=timeout, check_same_thread=False
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        register_sqlite_functions(conn)  # what compiled masking and filters call
    except sqlite3.Error as exc:
        raise connection_failed(exc, dsn) from exc
    return conn


def test_connection(url: str, timeout: float = 5) -> str:
    """The server's version text; ConnectionFailed with a Chinese message otherwise."""
    try:
        dsn = parse(url)
    except ValueError as exc:
        raise ConnectionFailed(f"数据库地址无效：{exc}") from None
    if dsn.dialect == "sqlite":
        conn = sqlite(dsn, must_exist=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise connection_failed(exc, dsn) from exc
        finally:
            conn.close()
        return f"SQLite {sqlite3.sqlite_version}"
    if dsn.dialect == "postgresql":
        pg_conn = pg(dsn, timeout=timeout)
        try:
            row = pg_conn.execute("SELECT version()").fetchone()
        finally:
            pg_conn.close()
        return str(row[0]) if row else ""
    my_conn = mysql(dsn, timeout=timeout)
    try:
        with my_conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
    finally:
        my_conn.close()
    return f"MySQL {row[0]}" if row else ""


# Not a test, whatever its name: pytest would otherwise collect it wherever it is imported.
test_connection.__test__ = False  # type: ignore[attr-defined]
