"""Back up, verify and restore through the `govshare` command, on SQLite and on PostgreSQL:
the restored platform is the one backed up — every table's rows, every file, the audit chain —
and it starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from govshare import cli
from govshare.backup.archive import archives, read_manifest
from govshare.backup.restore import Target
from govshare.core import migrate
from govshare.core.audit import service as audit_service
from govshare.core.runtime import build_runtime, get_runtime
from govshare.core.settings import get_settings, load_settings
from govshare.web.app import create_app
from tests.backup.compare import audit_after, database_tables, differences, state_of
from tests.backup.conftest import Deployment
from tests.conftest import Cli

Console = Callable[..., Result]


@pytest.fixture
def console(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """`govshare …` in this process, configured for the deployment."""
    for name in list(os.environ):
        if name.startswith("GOVSHARE_"):
            monkeypatch.delenv(name)
    for name, value in deployment.environ.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_runtime.cache_clear()
    yield lambda *args: CliRunner().invoke(cli.app, [str(a) for a in args])
    if get_runtime.cache_info().currsize:
        get_runtime().engine.dispose()
    get_settings.cache_clear()
    get_runtime.cache_clear()


def _restore_options(deployment: Deployment, target: Target) -> list[Any]:
    options: list[Any] = ["--data-dir", target.data_dir]
    if deployment.backend == "postgresql":
        options += ["--database-url", target.database_url]
        options += ["--center-database-url", target.center_database_url]
        options += ["--portal-database-url", target.portal_database_url]
    return options


def test_a_restored_backup_is_the_platform_as_it_was_and_starts(
    deployment: Deployment, target: Target, console: Console, tmp_path: Path
) -> None:
    taken = console("backup", "--to", tmp_path / "backups")
    assert taken.exit_code == 0, taken.output
    assert "已写入备份" in taken.stdout and "2 个文件" in taken.stdout
    [archive] = archives(tmp_path / "backups")
    checked = console("backup", "verify", archive)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("备份完整：5 个部分、")

    restored = console("restore", archive, *_restore_options(deployment, target))
    assert restored.exit_code == 0, restored.output
    assert "审计链完整" in restored.stdout

    manifest = read_manifest(archive)
    settings = load_settings(environ=target.settings(manifest))
    before, after = state_of(deployment.runtime.settings), state_of(settings)
    assert after.files and after.databases["portal"]
    center = after.databases["center" if deployment.backend == "sqlite" else "platform"]
    assert any(table.rows for name, table in center.items() if "r_people" in name)
    # The audit log goes on after the backup on both sides; up to it, it is the same.
    head = manifest["audit_head"]["seq"]
    assert audit_after(before, head) == ["backup.create", "backup.verify"]
    assert audit_after(after, head) == ["backup.restore"]
    assert differences(before, after) == []

    runtime = build_runtime(settings)
    try:
        assert migrate.is_current(runtime.engine)
        with Session(runtime.engine) as db:
            assert audit_service.verify(db).ok
        with TestClient(create_app(runtime)) as client:
            health = client.get("/api/v1/health")
        assert health.status_code == 200, health.text
        assert health.json()["database"] == deployment.runtime.engine.dialect.name
    finally:
        runtime.engine.dispose()


def test_verify_exits_1_naming_the_part_with_a_flipped_byte(
    deployment: Deployment, console: Console, tmp_path: Path
) -> None:
    assert console("backup", "--to", tmp_path).exit_code == 0
    [archive] = archives(tmp_path)
    [dump] = (archive / "center").iterdir()
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    result = console("backup", "verify", archive)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"备份校验未通过：数据资源中心（center）：文件 center/{dump.name} 已损坏：SHA-256 与清单不符"
    )


def test_restore_refuses_a_data_directory_that_is_not_empty(
    deployment: Deployment, target: Target, console: Console, tmp_path: Path
) -> None:
    assert console("backup", "--to", tmp_path / "backups").exit_code == 0
    [archive] = archives(tmp_path / "backups")
    target.data_dir.mkdir()
    (target.data_dir / "notes.txt").write_text("上次演练的记录")
    result = console("restore", archive, *_restore_options(deployment, target))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"错误: data_dir: 数据目录 {target.data_dir} 不是空的（已有 notes.txt），"
        "恢复只能写入空目录或尚不存在的目录"
    )
    assert [p.name for p in target.data_dir.iterdir()] == ["notes.txt"]
    if deployment.backend == "postgresql":
        assert database_tables(target.database_url) == ({}, {})


def test_a_backup_with_nowhere_to_go_says_how_to_name_it(govshare_cli: Cli) -> None:
    result = govshare_cli("backup")
    assert result.exit_code == 2
    assert "--to" in result.stderr and "GOVSHARE_BACKUP_DIR" in result.stderr
