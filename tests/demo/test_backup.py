"""The demo city backed up by `govshare backup` and restored by `govshare restore` into an empty
data directory and empty databases (SR§25 灾难恢复): the restored city is the one backed up —
every table of every database, every stored file, the secret key — and `govshare audit
verify` passes on it against a checkpoint taken before the backup."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from govshare import cli
from govshare.backup.archive import archives, read_manifest
from govshare.backup.restore import Target
from govshare.core.runtime import get_runtime
from govshare.core.settings import get_settings, load_settings
from tests.backup.compare import audit_after, differences, state_of
from tests.backup.conftest import drop_postgres_database, postgres_database
from tests.demo.conftest import City

PLACES = (
    "GOVSHARE_DATA_DIR",
    "GOVSHARE_DATABASE_URL",
    "GOVSHARE_CENTER_DATABASE_URL",
    "GOVSHARE_PORTAL_DATABASE_URL",
)


def govshare(environ: dict[str, str], *args: Any) -> Result:
    """`govshare …` in this process with exactly these settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("GOVSHARE_"):
                patch.delenv(name)
        for name, value in environ.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        get_runtime.cache_clear()
        try:
            return CliRunner().invoke(cli.app, [str(a) for a in args])
        finally:
            if get_runtime.cache_info().currsize:
                runtime = get_runtime()
                for opened in ("center", "portal"):
                    if opened in runtime.__dict__:
                        getattr(runtime, opened).engine.dispose()
                runtime.engine.dispose()
            get_settings.cache_clear()
            get_runtime.cache_clear()


@pytest.fixture
def target(city: City, tmp_path: Path) -> Iterator[Target]:
    """Where the city is restored: a data directory not yet made and, on PostgreSQL, two
    empty databases (the platform with its center, and the portal)."""
    if "GOVSHARE_DATABASE_URL" not in city.environ:
        yield Target.of(tmp_path / "restored")
        return
    platform, portal = postgres_database("city_to"), postgres_database("city_to_portal")
    try:
        yield Target.of(
            tmp_path / "restored",
            database_url=platform,
            center_database_url=platform,
            portal_database_url=portal,
        )
    finally:
        for url in (platform, portal):
            drop_postgres_database(url)


def test_the_demo_city_restored_from_its_backup_is_identical(
    city: City, target: Target, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "checkpoints.txt"
    point = govshare(city.environ, "audit", "checkpoint", "--output", checkpoints)
    assert point.exit_code == 0, point.output
    before = state_of(city.runtime.settings)

    taken = govshare(city.environ, "backup", "--to", tmp_path / "backups")
    assert taken.exit_code == 0, taken.output
    [archive] = archives(tmp_path / "backups")
    verified = govshare(city.environ, "backup", "verify", archive)
    assert verified.exit_code == 0, verified.output
    options: list[Any] = ["--data-dir", target.data_dir]
    if "GOVSHARE_DATABASE_URL" in city.environ:
        options += ["--database-url", target.database_url]
        options += ["--center-database-url", target.center_database_url]
        options += ["--portal-database-url", target.portal_database_url]
    restored = govshare(city.environ, "restore", archive, *options)
    assert restored.exit_code == 0, restored.output

    manifest = read_manifest(archive)
    # The city's own settings, its places those the restore named.
    environ = {
        name: value for name, value in city.environ.items() if name not in PLACES
    } | target.settings(manifest)
    audited = govshare(environ, "audit", "verify", "--checkpoints", checkpoints)
    assert audited.exit_code == 0, audited.output
    assert audited.stdout.startswith("审计链完整")

    after = state_of(load_settings(environ=environ))
    # Nothing is compared vacuously: every database of the city has rows, and there are
    # stored files and a key.
    assert all(any(t.rows for t in tables.values()) for tables in before.databases.values())
    assert before.files and before.secret_key
    head = manifest["audit_head"]
    # The line starts with the head's position and hash; its signature follows.
    assert checkpoints.read_text().split()[:2] == [str(head["seq"]), head["hash"]]
    # The restore is the first entry after the backed-up chain, on the restored side only.
    assert audit_after(before, head["seq"]) == []
    assert audit_after(after, head["seq"]) == ["backup.restore"]
    assert differences(before, after) == []
