"""Settings from environment variables (GOVSHARE_*) and an optional TOML config file.

A wrong setting fails at start with a `ConfigError` naming the variable; nothing is
discovered half-way through a request.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError

from govshare.core import policy
from govshare.core.errors import ConfigError

ENV_PREFIX = "GOVSHARE_"
SUPPORTED_DB_SCHEMES = ("sqlite", "postgresql")


class Settings(BaseModel):
    """Everything a govshare process needs to know about its deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("govshare-data")
    database_url: str = ""
    secret_key: str = ""
    policy_profile: str = "shangrao"
    policy_file: Path | None = None
    city_name: str = ""  # shown in the header; the profile's city when empty
    pdf_font: str = ""  # a CJK TrueType font embedded in PDFs; empty: the first system one found
    timezone: str = "Asia/Shanghai"
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    session_hours: int = 12
    audit_hash: str = "sha256"
    # Who chains audit entries: "inline" (the committing transaction, under the head lock; the
    # embedded single machine) or "sequencer" (writers only insert; the worker's sequencer
    # chains them in batches — several app processes on PostgreSQL).
    audit_sequencing: str = "inline"
    audit_sequencer_interval: float = 0.2  # seconds between the sequencer's batches
    audit_unsequenced_seconds: float = 10.0  # `audit verify` fails past this wait
    audit_checkpoint_seconds: float = 10.0  # the sequencer signs the head at most this often
    audit_signing_key: str = ""  # Ed25519 seed, 64 hex digits; derived from secret_key if empty
    # Exchange (交换系统)
    center_database_url: str = ""  # data resource center; a SQLite file in data_dir when empty
    center_schema: str = "center"  # PostgreSQL schema of the center's tables
    # The open portal's own database, which the platform publishes into (one way);
    # portal.db in data_dir when empty. `govshare portal` reads this same variable alone.
    portal_database_url: str = ""
    credential_cipher: str = "aes-gcm"  # aes-gcm or sm4-gcm (国密) for connection passwords
    credential_key: str = ""  # 64 hex digits; derived from secret_key when empty
    mask_key: str = ""  # key of the keyed-hash masking rule; derived from secret_key when empty
    file_store: str = "local"  # local (data_dir/files) or s3
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # A TLS terminator in front of the platform that verified a system's client certificate
    # forwards it URL-escaped in this header (nginx: $ssl_client_escaped_cert); trusted only
    # from the addresses in client_cert_proxies (comma-separated IPs or networks).
    client_cert_header: str = ""
    client_cert_proxies: str = ""
    # Federation with the platforms above and below (级联): the port peers reach this
    # platform's mutual-TLS listener on; 0 leaves it off. `govshare serve` runs it.
    federation_port: int = 0
    federation_host: str = "0.0.0.0"
    gateway_rate_limit: int = 600  # calls per minute per grant unless the grant says otherwise
    gateway_timeout_seconds: float = 10.0  # the default upstream timeout of a service interface
    # The gateway's data plane on nginx (`govshare gateway config|reload|ingest`): where it
    # listens, how it reaches the platform for its auth_request, its files (configuration,
    # auth cache, access log; data_dir/gateway when empty) and the command that tests and
    # reloads it (`nginx -p DIR -c DIR/nginx.conf` when empty; `-t` and `-s reload` appended).
    gateway_nginx_listen: str = "127.0.0.1:8080"
    gateway_nginx_platform_url: str = "http://127.0.0.1:8000"
    gateway_nginx_dir: Path | None = None
    gateway_nginx_command: str = ""
    # Request bodies past these sizes are refused (413) before they are read or parsed.
    max_body_bytes: int = 4 * 1024 * 1024  # JSON and posted forms
    max_upload_bytes: int = 100 * 1024 * 1024  # multipart uploads and attachments
    # Daily backups (备份, SR§25 灾难恢复) by the worker: off while no directory is set
    backup_dir: Path | None = None
    backup_keep: int = 7  # the newest backups kept in backup_dir; older ones are removed
    backup_hour: int = 2  # the hour of the city's day from which the day's backup is taken

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"GOVSHARE_CONFIG: 配置文件不存在: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"GOVSHARE_CONFIG: 配置文件不是合法的 TOML ({path}): {exc}") from exc
    unknown = set(data) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(f"GOVSHARE_CONFIG: 未知的设置项 {', '.join(sorted(unknown))} ({path})")
    return data


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build and validate settings: defaults < config file < environment < overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if env.get("GOVSHARE_CONFIG"):
        values.update(_read_config_file(Path(env["GOVSHARE_CONFIG"])))
    for field in Settings.model_fields:
        if _env_name(field) in env and env[_env_name(field)] != "":
            values[field] = env[_env_name(field)]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(f"{_env_name(field)}: {first['msg']}") from exc
    return _complete(settings)


def _complete(settings: Settings) -> Settings:
    """Check cross-field rules and fill in derived defaults (database file, secret key)."""
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"GOVSHARE_TIMEZONE: 未知的时区 {settings.timezone!r}") from exc
    if settings.audit_hash not in ("sha256", "sm3"):
        raise ConfigError("GOVSHARE_AUDIT_HASH: 只能是 sha256 或 sm3")
    _check_audit(settings)
    if settings.max_body_bytes < 1024 or settings.max_upload_bytes < settings.max_body_bytes:
        raise ConfigError(
            "GOVSHARE_MAX_BODY_BYTES / GOVSHARE_MAX_UPLOAD_BYTES: 请求体上限至少 1024 字节，"
            "上传上限不得小于请求体上限"
        )
    if settings.login_max_failures < 1 or settings.login_lock_minutes < 1:
        raise ConfigError("GOVSHARE_LOGIN_MAX_FAILURES / GOVSHARE_LOGIN_LOCK_MINUTES: 必须为正整数")
    _check_exchange(settings)
    _check_client_cert(settings)
    data_dir = settings.data_dir.expanduser().resolve()
    backup_dir = _check_backup(settings, data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"GOVSHARE_DATA_DIR: 无法创建数据目录 {data_dir}: {exc}") from exc
    if not os.access(data_dir, os.W_OK):
        raise ConfigError(f"GOVSHARE_DATA_DIR: 数据目录不可写: {data_dir}")
    url = settings.database_url or f"sqlite:///{data_dir / 'govshare.db'}"
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in SUPPORTED_DB_SCHEMES:
        raise ConfigError(
            "GOVSHARE_DATABASE_URL: 只支持 sqlite:///路径 或 postgresql://用户@主机/库，"
            f"收到 {url!r}"
        )
    if scheme == "postgresql" and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    secret = settings.secret_key or _stored_secret(data_dir)
    if len(secret) < 32:
        raise ConfigError("GOVSHARE_SECRET_KEY: 密钥至少 32 个字符")
    try:
        policy.load_profile(settings.policy_profile, settings.policy_file)
    except policy.ProfileError as exc:
        name = "GOVSHARE_POLICY_FILE" if settings.policy_file else "GOVSHARE_POLICY_PROFILE"
        raise ConfigError(f"{name}: {exc}") from exc
    center_url = settings.center_database_url or f"sqlite:///{data_dir / 'center.db'}"
    if center_url.startswith("postgresql://"):
        center_url = "postgresql+psycopg://" + center_url.removeprefix("postgresql://")
    portal_url = settings.portal_database_url or f"sqlite:///{data_dir / 'portal.db'}"
    if portal_url.startswith("postgresql://"):
        portal_url = "postgresql+psycopg://" + portal_url.removeprefix("postgresql://")
    if portal_url in (url, center_url):
        raise ConfigError(
            "GOVSHARE_PORTAL_DATABASE_URL: 开放门户须使用独立的数据库，不能与平台数据库或数据资源中心相同"
        )
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": url,
            "secret_key": secret,
            "center_database_url": center_url,
            "portal_database_url": portal_url,
            "backup_dir": backup_dir,
        }
    )


def _check_backup(settings: Settings, data_dir: Path) -> Path | None:
    if settings.backup_keep < 1:
        raise ConfigError("GOVSHARE_BACKUP_KEEP: 至少保留 1 份备份")
    if not 0 <= settings.backup_hour <= 23:
        raise ConfigError("GOVSHARE_BACKUP_HOUR: 只能是 0 到 23 之间的整点")
    if settings.backup_dir is None:
        return None
    backup_dir = settings.backup_dir.expanduser().resolve()
    if backup_dir.is_relative_to(data_dir / "files"):
        # The file store is copied into each backup: a backup inside it would copy itself.
        raise ConfigError(
            f"GOVSHARE_BACKUP_DIR: 备份目录不能位于文件存储目录 {data_dir / 'files'} 之内"
        )
    return backup_dir


def _check_audit(settings: Settings) -> None:
    if settings.audit_sequencing not in ("inline", "sequencer"):
        raise ConfigError("GOVSHARE_AUDIT_SEQUENCING: 只能是 inline 或 sequencer")
    if not 0.01 <= settings.audit_sequencer_interval <= 10:
        raise ConfigError("GOVSHARE_AUDIT_SEQUENCER_INTERVAL: 须在 0.01 到 10 秒之间")
    if settings.audit_unsequenced_seconds < 1 or settings.audit_checkpoint_seconds < 0:
        raise ConfigError(
            "GOVSHARE_AUDIT_UNSEQUENCED_SECONDS / GOVSHARE_AUDIT_CHECKPOINT_SECONDS: "
            "未排序时限至少 1 秒，检查点间隔不得为负"
        )
    if settings.audit_signing_key:
        try:
            if len(bytes.fromhex(settings.audit_signing_key)) != 32:
                raise ValueError
        except ValueError:
            raise ConfigError("GOVSHARE_AUDIT_SIGNING_KEY: 必须是 64 位十六进制数") from None


def _check_client_cert(settings: Settings) -> None:
    """The forwarded client certificate is trusted only with both settings, and from
    addresses written correctly."""
    header, proxies = settings.client_cert_header.strip(), settings.client_cert_proxies.strip()
    if bool(header) != bool(proxies):
        raise ConfigError(
            "GOVSHARE_CLIENT_CERT_HEADER / GOVSHARE_CLIENT_CERT_PROXIES: 须同时设置转发证书的"
            "请求头和可信的 TLS 终结代理地址"
        )
    for entry in proxies.split(","):
        if not entry.strip():
            continue
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"GOVSHARE_CLIENT_CERT_PROXIES: {entry.strip()!r} 不是 IP 地址或网段"
            ) from None


def _check_exchange(settings: Settings) -> None:
    if settings.credential_cipher not in ("aes-gcm", "sm4-gcm"):
        raise ConfigError("GOVSHARE_CREDENTIAL_CIPHER: 只能是 aes-gcm 或 sm4-gcm")
    if settings.credential_key:
        try:
            if len(bytes.fromhex(settings.credential_key)) != 32:
                raise ValueError
        except ValueError:
            raise ConfigError(
                "GOVSHARE_CREDENTIAL_KEY: 必须是 64 位十六进制数（256 位密钥）"
            ) from None
    if settings.file_store not in ("local", "s3"):
        raise ConfigError("GOVSHARE_FILE_STORE: 只能是 local 或 s3")
    if settings.file_store == "s3" and not settings.s3_bucket:
        raise ConfigError("GOVSHARE_S3_BUCKET: 使用 S3 存储时必须填写存储桶名称")
    if settings.gateway_rate_limit < 1:
        raise ConfigError("GOVSHARE_GATEWAY_RATE_LIMIT: 必须为正整数（每分钟调用次数）")
    if settings.gateway_timeout_seconds <= 0:
        raise ConfigError("GOVSHARE_GATEWAY_TIMEOUT_SECONDS: 必须大于 0")
    center = settings.center_database_url
    if center and center.split(":", 1)[0].split("+", 1)[0] not in SUPPORTED_DB_SCHEMES:
        raise ConfigError(
            f"GOVSHARE_CENTER_DATABASE_URL: 只支持 sqlite:///路径 或 postgresql://…，收到 {center!r}"
        )


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from the secret key (HKDF-SHA256), so a
    deployment that sets only GOVSHARE_SECRET_KEY still has distinct keys per use."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(settings.secret_key.encode())


def _stored_secret(data_dir: Path) -> str:
    """The secret kept in the data directory, generated (mode 0600) on first start."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


@functools.cache
def get_settings() -> Settings:
    """The process's settings, loaded once from the environment."""
    return load_settings()
