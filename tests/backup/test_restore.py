"""What a restore refuses, before it writes anything: a damaged backup, a target that is not
empty, a target of another kind, a database it cannot reach, anyone but the operator."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from govshare.backup.create import create
from govshare.backup.restore import Target, restore
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from tests.backup.conftest import Deployment, drop_postgres_database, postgres_database

OPERATOR = Actor.command_line("test")


def _execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def test_a_database_that_is_not_empty_is_named_and_left_alone(
    deployment: Deployment, target: Target, tmp_path: Path
) -> None:
    archive = create(deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    if deployment.backend == "postgresql":
        _execute(target.database_url, "CREATE TABLE leftover (id integer)")
        shown = sa.make_url(target.database_url).set(drivername="postgresql")
        expected = (
            f"平台数据库的目标 {shown.render_as_string()} 不是空的：已有 1 个表或其他对象"
            "（public.leftover），恢复只能写入空数据库"
        )
    else:
        elsewhere = tmp_path / "elsewhere.db"
        with sqlite3.connect(elsewhere) as db:
            db.execute("CREATE TABLE leftover (id integer)")
        target = Target.of(target.data_dir, database_url=f"sqlite:///{elsewhere}")
        expected = f"平台数据库的目标 {elsewhere} 已存在且不是空文件，恢复只能写入空目标"
    with pytest.raises(Conflict) as refused:
        restore(archive, target, actor=OPERATOR)
    assert refused.value.message == expected
    assert not target.data_dir.exists()


def test_a_center_schema_already_there_is_refused(
    postgres_deployment: Deployment, tmp_path: Path
) -> None:
    archive = create(postgres_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    platform, center, portal = (postgres_database(f"bk_to_{n}") for n in ("p", "c", "o"))
    try:
        _execute(center, "CREATE SCHEMA center")
        target = Target.of(
            tmp_path / "restored",
            database_url=platform,
            center_database_url=center,
            portal_database_url=portal,
        )
        with pytest.raises(Conflict, match="模式 center 已存在"):
            restore(archive, target, actor=OPERATOR)
        assert not target.data_dir.exists()
    finally:
        for url in (platform, center, portal):
            drop_postgres_database(url)


def test_a_damaged_backup_is_not_restored(sqlite_deployment: Deployment, tmp_path: Path) -> None:
    archive = create(sqlite_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    copy = archive / "platform" / "govshare.db"
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    target = Target.of(tmp_path / "restored")
    with pytest.raises(Invalid) as refused:
        restore(archive, target, actor=OPERATOR)
    assert refused.value.message.startswith("备份校验未通过：平台数据库（platform）：")
    assert not target.data_dir.exists()


def test_a_target_of_another_kind_is_refused(sqlite_deployment: Deployment, tmp_path: Path) -> None:
    archive = create(sqlite_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    target = Target.of(tmp_path / "restored", database_url="postgresql://postgres@127.0.0.1/x")
    with pytest.raises(Invalid) as refused:
        restore(archive, target, actor=OPERATOR)
    assert refused.value.message == (
        "备份中的平台数据库是内置数据库（SQLite），恢复目标也须是内置数据库（SQLite）"
        "（用 --database-url 指定）"
    )


def test_a_database_that_does_not_exist_is_named(
    postgres_deployment: Deployment, tmp_path: Path
) -> None:
    archive = create(postgres_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    missing = sa.make_url(postgres_deployment.environ["GOVSHARE_DATABASE_URL"])
    missing = missing.set(database=f"{missing.database}_never_made")
    url = missing.render_as_string(hide_password=False)
    target = Target.of(
        tmp_path / "restored",
        database_url=url,
        center_database_url=url,
        portal_database_url=url + "2",
    )
    with pytest.raises(Invalid, match=r"无法连接平台数据库的目标 .*_never_made.*请先建立空数据库"):
        restore(archive, target, actor=OPERATOR)


def test_only_the_operator_restores(sqlite_deployment: Deployment, tmp_path: Path) -> None:
    archive = create(sqlite_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups").path
    auditor = Actor(label="auditor", roles=frozenset({Role.AUDITOR}), user_id=1)
    with pytest.raises(Forbidden):
        restore(archive, Target.of(tmp_path / "restored"), actor=auditor)
