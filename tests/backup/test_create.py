"""Taking a backup: what the manifest says of each part, what is left out and said so, and
what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.backup import archive as archives
from govshare.backup.create import create
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import build_runtime
from govshare.core.settings import load_settings
from tests.backup.conftest import Deployment

OPERATOR = Actor.command_line("test")


def test_the_manifest_holds_each_part_its_row_counts_and_checksums(
    deployment: Deployment, tmp_path: Path
) -> None:
    taken = create(deployment.runtime, actor=OPERATOR, to=tmp_path)
    manifest = json.loads((taken.path / "manifest.json").read_text(encoding="utf-8"))
    parts = manifest["parts"]
    kind = deployment.backend
    assert [parts[p]["kind"] for p in archives.PARTS] == [kind, kind, kind, "local", "data_dir"]
    assert manifest["alembic_revision"] and manifest["audit_head"]["seq"] > 0
    platform = parts["platform"]["tables"]
    prefix = "public." if kind == "postgresql" else ""
    assert platform[f"{prefix}exchange_file_version"] == 2
    assert platform[f"{prefix}audit_entry"] == manifest["audit_head"]["seq"]
    center = {name.rsplit(".", 1)[-1]: rows for name, rows in parts["center"]["tables"].items()}
    assert [rows for name, rows in center.items() if name.startswith("r_people")] == [30]
    if kind == "postgresql":  # the center's schema is its own part, not the platform's
        assert parts["center"]["schema"] == "center"
        assert all(name.startswith("center.") for name in parts["center"]["tables"])
        assert not any(name.startswith("center.") for name in platform)
    assert parts["portal"]["tables"][f"{prefix}portal_dataset"] == 4
    assert (parts["files"]["referenced"], parts["files"]["missing"]) == (2, [])
    assert len(parts["files"]["files"]) == 2
    assert parts["secrets"]["secret_key"] == "file"
    assert list(parts["secrets"]["files"]) == ["secrets/secret_key"]
    assert taken.warnings == []


def test_the_backup_is_audited_with_its_manifests_checksum(
    sqlite_deployment: Deployment, tmp_path: Path
) -> None:
    taken = create(sqlite_deployment.runtime, actor=OPERATOR, to=tmp_path)
    with Session(sqlite_deployment.runtime.engine) as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "backup.create")).one()
    assert (entry.actor_label, entry.object_id) == ("console:test", taken.path.name)
    details = json.loads(entry.details)
    assert details["manifest_sha256"] == archives.manifest_sha256(taken.path)
    assert details["parts"]["files"] == {
        "kind": "local",
        "files": 2,
        "bytes": details["parts"]["files"]["bytes"],
    }
    assert details["audit_head_seq"] == entry.seq - 1


def test_an_s3_store_is_recorded_and_not_copied(
    sqlite_deployment: Deployment, tmp_path: Path
) -> None:
    environ = sqlite_deployment.environ | {
        "GOVSHARE_FILE_STORE": "s3",
        "GOVSHARE_S3_BUCKET": "govshare-files",
    }
    runtime = build_runtime(load_settings(environ=environ))
    try:
        taken = create(runtime, actor=OPERATOR, to=tmp_path)
    finally:
        runtime.engine.dispose()
    files = taken.manifest["parts"]["files"]
    assert (files["kind"], files["copied"], files["bucket"]) == ("s3", False, "govshare-files")
    assert files["referenced"] == 2 and files["files"] == {}
    assert not (taken.path / "files").exists()
    assert any("S3" in w and "未复制" in w for w in taken.warnings)
    assert archives.verify(taken.path).ok


def test_keys_given_as_settings_are_named_not_written(
    sqlite_deployment: Deployment, tmp_path: Path
) -> None:
    environ = sqlite_deployment.environ | {
        "GOVSHARE_SECRET_KEY": "k" * 40,
        "GOVSHARE_MASK_KEY": "ab" * 32,
    }
    runtime = build_runtime(load_settings(environ=environ))
    try:
        taken = create(runtime, actor=OPERATOR, to=tmp_path)
    finally:
        runtime.engine.dispose()
    secrets = taken.manifest["parts"]["secrets"]
    assert secrets["secret_key"] == "setting"
    assert secrets["keys_in_settings"] == ["GOVSHARE_SECRET_KEY", "GOVSHARE_MASK_KEY"]
    assert "k" * 40 not in (taken.path / "manifest.json").read_text()
    assert any("GOVSHARE_SECRET_KEY、GOVSHARE_MASK_KEY 来自设置" in w for w in taken.warnings)


def test_a_backup_into_the_file_store_is_refused(
    sqlite_deployment: Deployment,
) -> None:
    inside = sqlite_deployment.data_dir / "files" / "backups"
    with pytest.raises(Invalid, match="不能位于文件存储目录之内"):
        create(sqlite_deployment.runtime, actor=OPERATOR, to=inside)
    assert not inside.exists()


def test_only_the_operator_and_the_scheduler_take_backups(
    sqlite_deployment: Deployment, tmp_path: Path
) -> None:
    clerk = Actor(label="clerk", roles=frozenset({Role.DEPARTMENT_STAFF}), user_id=1)
    with pytest.raises(Forbidden):
        create(sqlite_deployment.runtime, actor=clerk, to=tmp_path)
    assert archives.archives(tmp_path) == []


def test_without_pg_dump_a_postgresql_backup_says_what_to_install(
    postgres_deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(Invalid, match=r"找不到 pg_dump.*postgresql-client"):
        create(postgres_deployment.runtime, actor=OPERATOR, to=tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == [
        tmp_path / "backups" / ".govshare-backup.lock"
    ]


def test_a_platform_without_its_database_has_nothing_to_back_up(tmp_path: Path) -> None:
    runtime = build_runtime(load_settings(environ={"GOVSHARE_DATA_DIR": str(tmp_path / "data")}))
    try:
        with pytest.raises(Invalid, match="尚未建立"):
            create(runtime, actor=OPERATOR, to=tmp_path / "backups")
    finally:
        runtime.engine.dispose()
    assert archives.archives(tmp_path / "backups") == []


def test_the_row_counts_are_the_copys(sqlite_deployment: Deployment, tmp_path: Path) -> None:
    taken = create(sqlite_deployment.runtime, actor=OPERATOR, to=tmp_path)
    engine = sa.create_engine(f"sqlite:///{taken.path / 'platform' / 'govshare.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM audit_entry")).scalar()
    engine.dispose()
    assert rows == taken.manifest["parts"]["platform"]["tables"]["audit_entry"]
