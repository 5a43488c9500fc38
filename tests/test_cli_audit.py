"""`govshare audit` with signed checkpoints, the public key and the sequencer, as an operator
uses them, against a real SQLite data directory."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from govshare.core.audit import service as audit_service
from govshare.core.audit import verify as audit_verify
from tests.conftest import Cli
from tests.test_cli import _add_organizations


def test_a_signed_checkpoint_is_checked_with_the_exported_public_key(
    govshare_cli: Cli, tmp_path: Path
) -> None:
    _add_organizations(govshare_cli, 2)
    key, points = tmp_path / "audit.pub", tmp_path / "checkpoints.txt"
    exported = govshare_cli("audit", "public-key", "--output", str(key))
    assert exported.exit_code == 0 and "BEGIN PUBLIC KEY" in key.read_text()
    made = govshare_cli("audit", "checkpoint", "--output", str(points))
    assert made.exit_code == 0, made.output
    assert len(points.read_text().split()) == 5  # seq hash time key-id signature
    result = govshare_cli("audit", "verify", "--checkpoints", str(points), "--public-key", str(key))
    assert result.exit_code == 0, result.output
    seq, _digest, *rest = points.read_text().split()
    points.write_text(" ".join([seq, "f" * 64, *rest]) + "\n")
    forged = govshare_cli("audit", "verify", "--checkpoints", str(points), "--public-key", str(key))
    assert forged.exit_code == 1
    assert f"第 {seq} 条记录的签名检查点签名无效" in forged.output


def test_a_key_that_is_not_a_public_key_is_refused(govshare_cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    result = govshare_cli("audit", "verify", "--public-key", str(bad))
    assert result.exit_code == 2 and "PEM" in result.output


def test_entries_wait_for_the_sequencer_and_verify_names_the_stale_one(
    govshare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    monkeypatch.setattr(audit_service, "sequencing", "inline")  # restored afterwards
    monkeypatch.setattr(audit_verify, "stale_after", audit_verify.stale_after)
    monkeypatch.setenv("GOVSHARE_AUDIT_SEQUENCING", "sequencer")
    monkeypatch.setenv("GOVSHARE_AUDIT_UNSEQUENCED_SECONDS", "1")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    _add_organizations(govshare_cli, 2)
    with sqlite3.connect(govshare_cli.data_dir / "govshare.db") as conn:
        waiting = conn.execute(
            "SELECT id FROM audit_entry WHERE seq IS NULL ORDER BY id"
        ).fetchall()
    assert len(waiting) == 2
    time.sleep(1.2)  # past GOVSHARE_AUDIT_UNSEQUENCED_SECONDS with no worker running
    stale = govshare_cli("audit", "verify")
    assert stale.exit_code == 1
    assert f"编号 {waiting[0][0]} 的记录" in stale.output and "未排入审计链" in stale.output
    done = govshare_cli("audit", "sequence")
    assert done.exit_code == 0 and "已排序 2 条审计记录" in done.output
    result = govshare_cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "已校验 2 条记录" in result.output
