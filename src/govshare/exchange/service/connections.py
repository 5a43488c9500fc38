"""Database connections (数据库连接): a department registers its business database's read
replica or its front-end exchange database (前置交换库); the platform tests it before saving.

The password is encrypted with the platform's key (AES-GCM, or SM4-GCM when the deployment
chooses 国密), never shown again and never written to the audit log. A connection reaches
only what its department owns (`exchange.reach`): a SQLite file inside the source directory
the platform operator assigned to the department, never one of the platform's own files, and
never the platform's own database or the data resource center on a server. Checked on saving
and again every time the platform opens the connection.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, select
from sqlalchemy.orm import Session, object_session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.settings import Settings
from govshare.exchange import credentials, engine, reach
from govshare.exchange.models import (
    Cipher,
    Connection,
    ConnectionRole,
    DatabaseKind,
    SourceDirectory,
)
from govshare.exchange.schemas import ConnectionIn, ConnectionOut

MANAGERS = (Role.DATA_OFFICER,)  # a department's data officer registers its databases
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)  # every department's, to read
VIEWERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF, *OVERSEERS)
DEFAULT_PORTS = {DatabaseKind.POSTGRESQL: 5432, DatabaseKind.MYSQL: 3306}
TEST_TIMEOUT_SECONDS = 5.0


def register_connection(
    db_session: Session, *, actor: Actor, settings: Settings, data: ConnectionIn
) -> Connection:
    """Tests the database and, when it answers, saves the connection for the actor's
    department. A database that does not answer is not saved: the error says why."""
    require(actor, *MANAGERS, action="登记数据库连接")
    org_id = own_organization(actor)
    _unique_name(db_session, org_id, data.name, None)
    now = clock.now()
    conn = Connection(
        organization_id=org_id,
        name=data.name,
        role=data.role,
        kind=data.kind,
        cipher=data.cipher or Cipher(settings.credential_cipher),
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    _apply(db_session, conn, data, settings)
    _test_or_refuse(db_session, conn, settings, _plain(data))  # before anything is written
    db_session.add(conn)
    db_session.flush()
    _seal_password(conn, data, settings)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.connection.register",
        object_type="connection",
        object_id=conn.id,
        details=_audit_details(conn),
    )
    return conn


def update_connection(
    db_session: Session, *, actor: Actor, settings: Settings, connection_id: int, data: ConnectionIn
) -> Connection:
    """Changes a connection; an empty password keeps the stored one. Tested before saving."""
    require(actor, *MANAGERS, action="修改数据库连接")
    conn = _owned(db_session, actor, connection_id)
    _unique_name(db_session, conn.organization_id, data.name, conn.id)
    if (
        data.kind is not conn.kind
        and data.password is None
        and data.kind is not DatabaseKind.SQLITE
    ):
        raise Invalid("更换数据库类型时请重新填写密码", field="password")
    candidate = Connection(
        id=conn.id,
        organization_id=conn.organization_id,
        name=data.name,
        role=data.role,
        kind=data.kind,
    )
    _apply(db_session, candidate, data, settings)
    password = _plain(data) if data.password is not None else password_of(conn, settings)
    _test_or_refuse(db_session, candidate, settings, password)  # before anything changes
    conn.name, conn.role, conn.kind = data.name, data.role, data.kind
    conn.last_tested_at = candidate.last_tested_at
    conn.last_test_ok, conn.last_test_message = True, candidate.last_test_message
    _apply(db_session, conn, data, settings)
    recipher = data.cipher is not None and data.cipher != conn.cipher
    if data.cipher is not None:
        conn.cipher = data.cipher
    if data.password is not None or recipher:  # else the sealed bytes stay as they are
        conn.secret = _sealed(conn, settings, password)
    conn.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.connection.update",
        object_type="connection",
        object_id=conn.id,
        details={**_audit_details(conn), "password_changed": data.password is not None},
    )
    return conn


def test_connection(
    db_session: Session, *, actor: Actor, settings: Settings, connection_id: int
) -> Connection:
    """Tests a saved connection again and keeps the result (shown on its page)."""
    require(actor, *MANAGERS, Role.PLATFORM_OPERATOR, action="测试数据库连接")
    conn = _visible(db_session, actor, connection_id)
    _run_test(db_session, conn, settings)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.connection.test",
        object_type="connection",
        object_id=conn.id,
        details={"ok": conn.last_test_ok, "message": conn.last_test_message},
    )
    return conn


def list_connections(
    db_session: Session, *, actor: Actor, role: ConnectionRole | None = None
) -> list[Connection]:
    """The actor's department's connections; the operator sees every department's."""
    require(actor, *VIEWERS, action="查看数据库连接")
    query = select(Connection).order_by(Connection.organization_id, Connection.name)
    if not actor.has(*OVERSEERS):
        query = query.where(Connection.organization_id == own_organization(actor))
    if role is not None:
        query = query.where(Connection.role == role)
    return list(db_session.execute(query).scalars())


def get_connection(db_session: Session, *, actor: Actor, connection_id: int) -> Connection:
    require(actor, *VIEWERS, action="查看数据库连接")
    return _visible(db_session, actor, connection_id)


def connection_out(conn: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=conn.id,
        organization=conn.organization.name,
        name=conn.name,
        role=conn.role,
        role_label=conn.role.label,
        kind=conn.kind,
        host=conn.host,
        port=conn.port,
        database=conn.database,
        db_schema=conn.schema,
        username=conn.username,
        has_password=conn.secret is not None,
        cipher=conn.cipher,
        last_tested_at=conn.last_tested_at,
        last_test_ok=conn.last_test_ok,
        last_test_message=conn.last_test_message,
    )


def password_of(conn: Connection, settings: Settings) -> str:
    if conn.secret is None:
        return ""
    return credentials.open_sealed(
        conn.secret, key=credentials.key_of(settings), context=_context(conn)
    )


def url_of(
    conn: Connection,
    settings: Settings,
    password: str | None = None,
    *,
    db_session: Session | None = None,
) -> str:
    """The SQLAlchemy URL of the connection, password included: for the engine only, never
    for display or logs. What the connection reaches is checked again first (Forbidden when
    it is no longer the department's own): a file may have been swapped for a link."""
    db_session = db_session or object_session(conn)
    if db_session is None:
        raise RuntimeError("url_of needs the session the connection belongs to")
    if conn.kind is DatabaseKind.SQLITE:
        path = _sqlite_file(db_session, settings, conn.organization_id, conn.database)
        return f"sqlite:///{path}"
    reach.refuse_platform_server(
        settings, kind=conn.kind.value, host=conn.host, port=conn.port, database=conn.database
    )
    driver = {
        DatabaseKind.POSTGRESQL: "postgresql+psycopg",
        DatabaseKind.MYSQL: "mysql+pymysql",
    }[conn.kind]
    url = URL.create(
        driver,
        username=conn.username or None,
        password=(password_of(conn, settings) if password is None else password) or None,
        host=conn.host,
        port=conn.port,
        database=conn.database,
        query={"charset": "utf8mb4"} if conn.kind is DatabaseKind.MYSQL else {},
    )
    return url.render_as_string(hide_password=False)


def qualified(conn: Connection, table: str) -> str:
    """A table name with the connection's schema when it names none itself."""
    if conn.schema and "." not in table:
        return f"{conn.schema}.{table}"
    return table


# --- inside --------------------------------------------------------------------------------


def _visible(db_session: Session, actor: Actor, connection_id: int) -> Connection:
    conn = db_session.get(Connection, connection_id)
    if conn is None:
        raise NotFound("数据库连接不存在")
    if not actor.has(*OVERSEERS) and conn.organization_id != actor.organization_id:
        raise Forbidden("只能查看本单位的数据库连接")
    return conn


def _owned(db_session: Session, actor: Actor, connection_id: int) -> Connection:
    conn = _visible(db_session, actor, connection_id)
    if conn.organization_id != actor.organization_id:
        raise Forbidden("只能修改本单位的数据库连接")
    return conn


def _unique_name(db_session: Session, org_id: int, name: str, own_id: int | None) -> None:
    clash = db_session.execute(
        select(Connection.id).where(Connection.organization_id == org_id, Connection.name == name)
    ).scalar_one_or_none()
    if clash is not None and clash != own_id:
        raise Conflict(f"本单位已有名为“{name}”的连接", field="name")


def _apply(db_session: Session, conn: Connection, data: ConnectionIn, settings: Settings) -> None:
    if data.kind is DatabaseKind.SQLITE:
        conn.host, conn.port, conn.username, conn.schema = "", None, "", ""
        path = _sqlite_file(db_session, settings, conn.organization_id, data.database)
        conn.database = str(path)
        conn.secret = None
        return
    reach.refuse_platform_server(
        settings, kind=data.kind.value, host=data.host, port=data.port, database=data.database
    )
    conn.host = data.host
    conn.port = data.port or DEFAULT_PORTS[data.kind]
    conn.database = data.database
    conn.schema = data.db_schema if data.kind is DatabaseKind.POSTGRESQL else ""
    conn.username = data.username


def _sqlite_file(db_session: Session, settings: Settings, organization_id: int, given: str) -> Path:
    """The department's SQLite file, checked against its source directory and everyone
    else's (`exchange.reach.sqlite_file`)."""
    rows = db_session.execute(select(SourceDirectory.organization_id, SourceDirectory.path))
    assigned = {org_id: path for org_id, path in rows}
    own = assigned.pop(organization_id, None)
    others = [settings.data_dir / p for p in assigned.values()]
    return reach.sqlite_file(settings, own, given, others)


def _context(conn: Connection) -> str:
    return f"connection:{conn.id}"


def _plain(data: ConnectionIn) -> str:
    return data.password.get_secret_value() if data.password is not None else ""


def _sealed(conn: Connection, settings: Settings, password: str) -> bytes | None:
    if conn.kind is DatabaseKind.SQLITE or not password:
        return None
    return credentials.seal(
        password, key=credentials.key_of(settings), cipher=conn.cipher, context=_context(conn)
    )


def _seal_password(conn: Connection, data: ConnectionIn, settings: Settings) -> None:
    conn.secret = _sealed(conn, settings, _plain(data))


def _run_test(
    db_session: Session, conn: Connection, settings: Settings, password: str | None = None
) -> None:
    conn.last_tested_at = clock.now()
    try:
        url = url_of(conn, settings, password, db_session=db_session)
        version = engine.test_connection(url, timeout=TEST_TIMEOUT_SECONDS)
    except engine.EngineError as exc:
        conn.last_test_ok, conn.last_test_message = False, str(exc)
    except (Forbidden, Invalid) as exc:  # the file went away, or is no longer its own
        conn.last_test_ok, conn.last_test_message = False, exc.message
    else:
        conn.last_test_ok, conn.last_test_message = True, f"连接成功：{version}"


def _test_or_refuse(
    db_session: Session, conn: Connection, settings: Settings, password: str
) -> None:
    _run_test(db_session, conn, settings, password)
    if not conn.last_test_ok:
        raise Invalid(f"连接测试未通过，未保存：{conn.last_test_message}", field="host")


def _audit_details(conn: Connection) -> dict[str, object]:
    return {
        "name": conn.name,
        "role": conn.role.value,
        "kind": conn.kind.value,
        "host": conn.host,
        "port": conn.port,
        "database": conn.database,
        "username": conn.username,
        "cipher": conn.cipher.value,
    }
