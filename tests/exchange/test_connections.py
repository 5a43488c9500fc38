"""Connections: tested before saving, passwords sealed at rest (AES-GCM or SM4-GCM), never
shown or logged; SQLite files only inside the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.permissions import Role
from govshare.exchange import credentials
from govshare.exchange.models import Cipher, ConnectionRole, DatabaseKind
from govshare.exchange.schemas import ConnectionIn
from govshare.exchange.service import connections
from tests.builders import actor_of, organization, user
from tests.conftest import POSTGRES_URL
from tests.exchange.builders import MYSQL_URL, people_sqlite, settings_for, source_directory
from tests.sharing.builders import sharing_world

SECRET = "s3cret-口令-2026"


def test_sealed_secrets_open_only_with_their_key_and_row() -> None:
    key = bytes(range(32))
    for cipher in Cipher:
        sealed = credentials.seal(SECRET, key=key, cipher=cipher, context="connection:1")
        assert SECRET.encode() not in sealed
        assert credentials.cipher_of(sealed) is cipher
        assert credentials.open_sealed(sealed, key=key, context="connection:1") == SECRET
        with pytest.raises(credentials.CredentialError):
            credentials.open_sealed(sealed, key=key, context="connection:2")
        with pytest.raises(credentials.CredentialError):
            credentials.open_sealed(sealed, key=bytes(32), context="connection:1")


def _mysql_in(**kw: object) -> ConnectionIn:
    url = make_url(MYSQL_URL)
    fields: dict[str, object] = {
        "name": "市场监管前置库",
        "role": ConnectionRole.FRONTEND,
        "kind": DatabaseKind.MYSQL,
        "host": url.host,
        "port": url.port,
        "database": url.database,
        "username": url.username,
        "password": SECRET,
    }
    return ConnectionIn.model_validate(fields | kw)


@pytest.mark.parametrize("cipher", list(Cipher))
def test_connections_are_tested_and_their_passwords_sealed(
    db: Session, data_dir: Path, cipher: Cipher
) -> None:
    s = sharing_world(db)
    settings = settings_for(data_dir, credential_cipher=cipher.value)
    conn = connections.register_connection(
        db, actor=s.provider_officer, settings=settings, data=_mysql_in(password=None)
    )
    assert conn.last_test_ok and "连接成功" in conn.last_test_message
    assert conn.cipher is cipher and conn.secret is None  # MariaDB's root has no password here

    # PostgreSQL here trusts loopback, so any password passes the test: seal one.
    pg = make_url(POSTGRES_URL)
    conn = connections.update_connection(
        db,
        actor=s.provider_officer,
        settings=settings,
        connection_id=conn.id,
        data=_mysql_in(
            kind=DatabaseKind.POSTGRESQL,
            host=pg.host,
            port=pg.port,
            database="postgres",
            username=pg.username,
            password=SECRET,
        ),
    )
    assert conn.last_test_ok, conn.last_test_message
    assert conn.secret is not None and SECRET.encode() not in conn.secret
    assert credentials.cipher_of(conn.secret) is cipher
    assert connections.password_of(conn, settings) == SECRET
    assert SECRET not in connections.connection_out(conn).model_dump_json()
    entries = db.execute(select(AuditEntry).where(AuditEntry.object_type == "connection")).scalars()
    assert all(SECRET not in str(e.details) for e in entries)

    # Saving again without a password keeps the sealed bytes; a new cipher reseals them.
    pg_in = {"kind": DatabaseKind.POSTGRESQL, "host": pg.host, "port": pg.port}
    pg_in |= {"database": "postgres", "username": pg.username, "password": None}
    sealed = conn.secret
    conn = connections.update_connection(
        db,
        actor=s.provider_officer,
        settings=settings,
        connection_id=conn.id,
        data=_mysql_in(**pg_in, cipher=cipher),
    )
    assert conn.secret == sealed
    other = next(c for c in Cipher if c is not cipher)
    conn = connections.update_connection(
        db,
        actor=s.provider_officer,
        settings=settings,
        connection_id=conn.id,
        data=_mysql_in(**pg_in, cipher=other),
    )
    assert conn.secret != sealed and credentials.cipher_of(conn.secret) is other
    assert connections.password_of(conn, settings) == SECRET


def test_a_database_that_does_not_answer_is_not_saved(db: Session, data_dir: Path) -> None:
    s = sharing_world(db)
    with pytest.raises(Invalid) as refused:
        connections.register_connection(
            db,
            actor=s.provider_officer,
            settings=settings_for(data_dir),
            data=_mysql_in(port=1, password=SECRET),
        )
    assert refused.value.field == "host" and "未保存" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert connections.list_connections(db, actor=s.provider_officer) == []


def test_sqlite_files_must_lie_in_the_departments_source_directory(
    db: Session, data_dir: Path, tmp_path: Path
) -> None:
    s = sharing_world(db)
    settings = settings_for(data_dir)
    outside = people_sqlite(tmp_path / "elsewhere.db")
    sqlite_in = {"name": "本地库", "role": ConnectionRole.SOURCE, "kind": DatabaseKind.SQLITE}
    people_sqlite(data_dir / "sources" / "src.db")
    with pytest.raises(Forbidden) as unassigned:  # no directory assigned yet: nothing at all
        connections.register_connection(
            db,
            actor=s.provider_officer,
            settings=settings,
            data=ConnectionIn.model_validate(sqlite_in | {"database": "sources/src.db"}),
        )
    assert unassigned.value.field == "database" and "尚未分配源库目录" in str(unassigned.value)
    source_directory(db, settings, s.provider.id, "sources")
    with pytest.raises(Forbidden) as refused:
        connections.register_connection(
            db,
            actor=s.provider_officer,
            settings=settings,
            data=ConnectionIn.model_validate(sqlite_in | {"database": str(outside)}),
        )
    assert refused.value.field == "database"
    conn = connections.register_connection(
        db,
        actor=s.provider_officer,
        settings=settings,
        data=ConnectionIn.model_validate(sqlite_in | {"database": "sources/src.db"}),
    )
    assert conn.last_test_ok and conn.database == str((data_dir / "sources/src.db").resolve())
    with pytest.raises(Conflict):
        connections.register_connection(
            db,
            actor=s.provider_officer,
            settings=settings,
            data=ConnectionIn.model_validate(sqlite_in | {"database": "sources/src.db"}),
        )


def test_only_the_department_sees_and_changes_its_connections(db: Session, data_dir: Path) -> None:
    s = sharing_world(db)
    settings = settings_for(data_dir)
    source_directory(db, settings, s.provider.id, "sources")
    people_sqlite(data_dir / "sources" / "src.db")
    data = ConnectionIn(
        name="人口库",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database="sources/src.db",
    )
    conn = connections.register_connection(
        db, actor=s.provider_officer, settings=settings, data=data
    )
    assert connections.list_connections(db, actor=s.consumer_officer) == []
    assert [c.id for c in connections.list_connections(db, actor=s.op)] == [conn.id]
    # An auditor reads every department's connections (never a password), and changes none.
    auditor = actor_of(user(db, organization(db, "市审计局"), [Role.AUDITOR]))
    assert [c.id for c in connections.list_connections(db, actor=auditor)] == [conn.id]
    assert connections.get_connection(db, actor=auditor, connection_id=conn.id).id == conn.id
    with pytest.raises(Forbidden):
        connections.update_connection(
            db, actor=auditor, settings=settings, connection_id=conn.id, data=data
        )
    with pytest.raises(Forbidden):
        connections.get_connection(db, actor=s.consumer_officer, connection_id=conn.id)
    with pytest.raises(Forbidden):
        connections.register_connection(db, actor=s.provider_staff, settings=settings, data=data)
