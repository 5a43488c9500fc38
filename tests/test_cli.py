"""The command line as an operator uses it, against a real SQLite data directory."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from govshare.core import clock
from govshare.core.audit.service import entry_hash
from tests.conftest import Cli


def _add_organizations(cli: Cli, count: int) -> None:
    from govshare.core.uscc import check_character

    for i in range(count):
        first17 = f"11369000MB{i:07d}"
        result = cli("org", "add", f"江州市测试局{i}", first17 + check_character(first17))
        assert result.exit_code == 0, result.output


@pytest.fixture
def audited(govshare_cli: Cli) -> Cli:
    """A data directory whose audit log holds four entries."""
    _add_organizations(govshare_cli, 4)
    return govshare_cli


def _sql(cli: Cli, statement: str, *params: object) -> None:
    with sqlite3.connect(cli.data_dir / "govshare.db") as conn:
        conn.execute(statement, params)


def test_verify_passes_on_an_untouched_log(audited: Cli) -> None:
    result = audited("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "已校验 4 条" in result.output


def test_verify_names_an_altered_row(audited: Cli) -> None:
    _sql(audited, "UPDATE audit_entry SET action = 'identity.organization.read' WHERE seq = 2")
    result = audited("audit", "verify")
    assert result.exit_code == 1
    assert "第 2 条记录内容被修改" in result.output


def test_verify_names_a_deleted_row(audited: Cli) -> None:
    _sql(audited, "DELETE FROM audit_entry WHERE seq = 3")
    result = audited("audit", "verify")
    assert result.exit_code == 1
    assert "第 3 条记录缺失" in result.output


def test_verify_names_a_deleted_last_row(audited: Cli) -> None:
    _sql(audited, "DELETE FROM audit_entry WHERE seq = 4")
    result = audited("audit", "verify")
    assert result.exit_code == 1
    assert "第 4 条记录缺失" in result.output


def test_verify_names_an_inserted_row(audited: Cli) -> None:
    _sql(
        audited,
        "INSERT INTO audit_entry (seq, occurred_at, actor_label, action, object_type, details, "
        "algorithm, prev_hash, hash) SELECT 5, occurred_at, 'operator', 'identity.user.create', "
        "'user', '{}', algorithm, hash, hash FROM audit_entry WHERE seq = 4",
    )
    result = audited("audit", "verify")
    assert result.exit_code == 1
    assert "第 5 条记录不在链中（被插入）" in result.output


def test_verify_catches_a_row_rewritten_with_a_recomputed_hash(audited: Cli) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from govshare.core.audit.models import AuditEntry

    engine = create_engine(f"sqlite:///{audited.data_dir / 'govshare.db'}")
    with Session(engine) as session, session.begin():
        entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        entry.actor_label = "someone-else"
        entry.hash = entry_hash(entry)  # a forger who knows the algorithm
    engine.dispose()
    result = audited("audit", "verify")
    assert result.exit_code == 1
    assert "第 3 条记录与前一条记录的哈希不衔接" in result.output


def test_workdays_add_crosses_national_day(govshare_cli: Cli) -> None:
    assert govshare_cli("workdays", "add", "2026-09-30", "1").stdout == "2026-10-08\n"
    assert govshare_cli("workdays", "add", "2026-10-09", "1").stdout == "2026-10-10\n"


def test_invalid_credit_code_is_refused_with_the_reason_and_exit_2(govshare_cli: Cli) -> None:
    result = govshare_cli("org", "add", "江州市档案馆", "11369000MB0000000X")
    assert result.exit_code == 2
    assert "uscc" in result.output and "校验码错误" in result.output
    assert govshare_cli("audit", "verify").output.startswith("审计链完整：已校验 0 条")


def test_policy_show_prints_rules_with_their_articles(govshare_cli: Cli) -> None:
    result = govshare_cli("policy", "show", "shaoyang")
    assert result.exit_code == 0, result.output
    assert "邵阳市" in result.output and "第二十一条" in result.output
    assert "考核评价：市行政审批服务局（第三十条）" in result.output
    assert "目录按期更新" in result.output


def _use_profile(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    monkeypatch.setenv("GOVSHARE_POLICY_PROFILE", code)
    get_settings.cache_clear()
    get_runtime.cache_clear()


def test_policy_show_warns_when_the_active_regulation_has_expired(
    govshare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_profile(monkeypatch, "binzhou")
    with clock.frozen("2022-11-05T12:00:00+08:00"):
        result = govshare_cli("policy", "show")
    assert result.exit_code == 0, result.output
    assert "2017-12-06起施行，有效期至 2022-11-05（第三十三條）" in result.output
    assert "警告" not in result.output
    with clock.frozen("2022-11-06T09:00:00+08:00"):
        result = govshare_cli("policy", "show")
    assert result.exit_code == 0, result.output
    assert "警告" in result.output and "已经失效" in result.output


def test_serve_logs_a_warning_at_start_when_the_regulation_has_expired(
    govshare_cli: Cli, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import govshare.web.cli

    served: list[tuple[str, int, int]] = []
    # Not the web server itself: what `serve` decides before it starts one.
    monkeypatch.setattr(govshare.web.cli, "_run", lambda *args: served.append(args))
    _use_profile(monkeypatch, "binzhou")
    with caplog.at_level(logging.WARNING, logger="govshare.policy"):
        with clock.frozen("2026-12-01T09:00:00+08:00"):
            assert govshare_cli("serve").exit_code == 0
        assert served and "有效期至 2022-11-05" in caplog.text
        caplog.clear()
        _use_profile(monkeypatch, "shangrao")
        with clock.frozen("2026-12-01T09:00:00+08:00"):
            assert govshare_cli("serve").exit_code == 0
        assert len(served) == 2 and caplog.text == ""


def test_unknown_profile_fails_at_start_naming_the_setting(
    govshare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    monkeypatch.setenv("GOVSHARE_POLICY_PROFILE", "hangzhou")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    result = govshare_cli("policy", "show")
    assert result.exit_code == 2
    assert "GOVSHARE_POLICY_PROFILE" in result.output and "shaoyang" in result.output


def _rewind_two_entries(cli: Cli) -> None:
    """What a database administrator could do: cut the tail, the checkpoints published in the
    database past it, and move the head back."""
    _sql(cli, "DELETE FROM audit_entry WHERE seq > 2")
    _sql(cli, "DELETE FROM audit_checkpoint WHERE seq > 2")
    with sqlite3.connect(cli.data_dir / "govshare.db") as conn:
        seq, digest = conn.execute("SELECT seq, hash FROM audit_entry WHERE seq = 2").fetchone()
        conn.execute("UPDATE audit_head SET last_seq = ?, last_hash = ?", (seq, digest))


def test_a_rewound_chain_is_caught_by_an_external_checkpoint(audited: Cli, tmp_path: Path) -> None:
    kept = tmp_path / "elsewhere" / "checkpoints.txt"
    kept.parent.mkdir()
    assert audited("audit", "checkpoint", "--output", str(kept)).exit_code == 0
    _rewind_two_entries(audited)
    assert audited("audit", "verify").exit_code == 0  # the chain alone cannot know
    result = audited("audit", "verify", "--checkpoints", str(kept))
    assert result.exit_code == 1
    assert "第 3 条记录缺失（链被回退" in result.output


def test_a_checkpoint_file_with_a_bad_line_is_refused(audited: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "checkpoints.txt"
    bad.write_text("4 not-a-hash\n", encoding="utf-8")
    result = audited("audit", "verify", "--checkpoints", str(bad))
    assert result.exit_code == 2
    assert "第 1 行" in result.output
