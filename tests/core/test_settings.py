"""Settings fail at start, naming the variable, and fill in safe defaults."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from govshare.core.errors import ConfigError
from govshare.core.settings import load_settings


def _load(tmp_path: Path, **env: str) -> object:
    return load_settings(environ={"GOVSHARE_DATA_DIR": str(tmp_path), **env})


def test_default_database_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'govshare.db'}"


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first, second = _load(tmp_path), _load(tmp_path)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_postgresql_url_uses_psycopg(tmp_path: Path) -> None:
    settings = _load(tmp_path, GOVSHARE_DATABASE_URL="postgresql://postgres@127.0.0.1/govshare")
    assert settings.database_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GOVSHARE_DATABASE_URL": "mysql://root@localhost/x"}, "GOVSHARE_DATABASE_URL"),
        ({"GOVSHARE_POLICY_PROFILE": "hangzhou"}, "GOVSHARE_POLICY_PROFILE"),
        ({"GOVSHARE_TIMEZONE": "Mars/Olympus"}, "GOVSHARE_TIMEZONE"),
        ({"GOVSHARE_SECRET_KEY": "short"}, "GOVSHARE_SECRET_KEY"),
        ({"GOVSHARE_AUDIT_HASH": "md5"}, "GOVSHARE_AUDIT_HASH"),
        ({"GOVSHARE_AUDIT_SEQUENCING": "lazy"}, "GOVSHARE_AUDIT_SEQUENCING"),
        ({"GOVSHARE_AUDIT_SEQUENCER_INTERVAL": "60"}, "GOVSHARE_AUDIT_SEQUENCER_INTERVAL"),
        ({"GOVSHARE_AUDIT_UNSEQUENCED_SECONDS": "0"}, "GOVSHARE_AUDIT_UNSEQUENCED_SECONDS"),
        ({"GOVSHARE_AUDIT_SIGNING_KEY": "abcd"}, "GOVSHARE_AUDIT_SIGNING_KEY"),
        ({"GOVSHARE_LOGIN_MAX_FAILURES": "many"}, "GOVSHARE_LOGIN_MAX_FAILURES"),
        ({"GOVSHARE_POLICY_FILE": "/nonexistent/policy.yaml"}, "GOVSHARE_POLICY_FILE"),
        ({"GOVSHARE_BACKUP_KEEP": "0"}, "GOVSHARE_BACKUP_KEEP"),
        ({"GOVSHARE_BACKUP_HOUR": "24"}, "GOVSHARE_BACKUP_HOUR"),
    ],
)
def test_wrong_setting_names_the_variable(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        _load(tmp_path, **env)


def test_backups_are_off_by_default_and_never_inside_the_file_store(tmp_path: Path) -> None:
    assert _load(tmp_path).backup_dir is None
    assert _load(tmp_path, GOVSHARE_BACKUP_DIR="~/backups").backup_dir == Path.home() / "backups"
    with pytest.raises(ConfigError, match="GOVSHARE_BACKUP_DIR: 备份目录不能位于文件存储目录"):
        _load(tmp_path, GOVSHARE_BACKUP_DIR=str(tmp_path / "files" / "backups"))


def test_config_file_is_read_and_unknown_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "govshare.toml"
    config.write_text('policy_profile = "binzhou"\ncity_name = "滨州市"\n', encoding="utf-8")
    settings = _load(tmp_path, GOVSHARE_CONFIG=str(config))
    assert (settings.policy_profile, settings.city_name) == ("binzhou", "滨州市")
    config.write_text('policy_profil = "binzhou"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="policy_profil"):
        _load(tmp_path, GOVSHARE_CONFIG=str(config))


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "govshare.toml"
    config.write_text('policy_profile = "binzhou"\n', encoding="utf-8")
    settings = _load(tmp_path, GOVSHARE_CONFIG=str(config), GOVSHARE_POLICY_PROFILE="wuhai")
    assert settings.policy_profile == "wuhai"


def test_the_time_zone_setting_decides_the_city_date(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from govshare.core import clock
    from govshare.core.runtime import build_runtime

    runtime = build_runtime(_load(tmp_path, GOVSHARE_TIMEZONE="Asia/Urumqi"))
    try:
        # 17:30 UTC is already the next day in Beijing (UTC+8) but not in Urumqi (UTC+6).
        with clock.frozen(datetime(2026, 11, 20, 17, 30, tzinfo=UTC)):
            assert clock.today() == date(2026, 11, 20)
    finally:
        runtime.engine.dispose()
        clock.set_city_zone(ZoneInfo("Asia/Shanghai"))
    with clock.frozen(datetime(2026, 11, 20, 17, 30, tzinfo=UTC)):
        assert clock.today() == date(2026, 11, 21)
