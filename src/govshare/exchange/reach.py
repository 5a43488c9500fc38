"""What a department's database connection may reach: only what the department owns.

An embedded SQLite database is a file on the platform's own server, beside the platform's
database, the data resource center (every department's synced tables), the secret key and the
file store. A department may therefore name only a file inside the directory the platform
operator assigned to it (源库目录), checked with every symbolic link and `..` resolved, never a
file the platform keeps for itself and never a file in another department's directory. A
network database may be anything the department can reach with its own credentials, except
the platform's own database and the center: the platform's server trusts itself.

The rules are checked when a connection is saved and again whenever the platform opens it,
because a file can be swapped for a link after it was checked.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from govshare.core.errors import Forbidden, Invalid
from govshare.core.settings import Settings

# Characters that would make a path something else once it reaches SQLite: URI parameters
# (`?mode=rwc`, `&vfs=`), fragments and percent-escapes.
URI_CHARACTERS = frozenset("?#%&")
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def platform_paths(settings: Settings) -> list[Path]:
    """The files and directories the platform keeps for itself, resolved: its database, the
    center and the portal's database when they are SQLite files (with their journals), the secret key, the file
    store and the data directory's own configuration."""
    data_dir = Path(os.path.realpath(settings.data_dir))
    found = [data_dir / "secret_key", data_dir / "files"]
    for url in (settings.database_url, settings.center_database_url, settings.portal_database_url):
        database = _sqlite_database(url)
        if database:
            base = os.path.realpath(database)
            found += [Path(base + side) for side in SQLITE_SIDE_FILES]
    if settings.policy_file is not None:
        found.append(Path(os.path.realpath(settings.policy_file)))
    return found


def directory_path(settings: Settings, given: str, others: Iterable[Path] = ()) -> Path:
    """A department's source directory as the operator names it (relative to the data
    directory, or absolute inside it), resolved; refused when it is not a directory of its
    own: the data directory itself, a place holding or inside the platform's files, or one
    overlapping another department's directory."""
    text = _plain_path(given, field="path", what="源库目录")
    data_dir = Path(os.path.realpath(settings.data_dir))
    path = Path(text)
    resolved = Path(os.path.realpath(path if path.is_absolute() else data_dir / path))
    _check_directory(settings, data_dir, resolved, others, field="path")
    if resolved.exists() and not resolved.is_dir():
        raise Invalid(f"源库目录 {text} 已存在且不是目录", field="path")
    return resolved


def sqlite_file(
    settings: Settings, directory: str | None, given: str, others: Iterable[Path] = ()
) -> Path:
    """The SQLite file a department's connection names, resolved, after checking it lies in
    the department's own source directory (`directory`, relative to the data directory) and
    is none of the platform's files. Forbidden or Invalid, naming the field, otherwise."""
    if not directory:
        raise Forbidden(
            "本单位尚未分配源库目录：嵌入式 SQLite 数据库文件只能放在平台管理员为本单位分配的"
            "目录中，请联系平台管理员分配",
            field="database",
        )
    text = _plain_path(given, field="database", what="SQLite 数据库文件路径")
    data_dir = Path(os.path.realpath(settings.data_dir))
    own = Path(os.path.realpath(data_dir / directory))
    others = [Path(os.path.realpath(o)) for o in others]
    # The directory itself may have been replaced by a link since it was assigned.
    _check_directory(settings, data_dir, own, others, field="database")
    path = Path(text)
    named = path if path.is_absolute() else data_dir / path
    if any(len(part.encode()) > 255 for part in path.parts) or len(str(named).encode()) >= 4096:
        raise Invalid(
            "SQLite 数据库文件路径过长：每一级名称不超过 255 字节，全路径不超过 4096 字节",
            field="database",
        )
    resolved = Path(os.path.realpath(named))
    shown = _shown(own, data_dir)
    if not resolved.is_relative_to(own) or resolved == own:
        if Path(os.path.normpath(named)).is_relative_to(own):
            raise Forbidden(
                f"SQLite 数据库文件 {text} 是指向本单位源库目录（{shown}）之外的链接，不能使用",
                field="database",
            )
        raise Forbidden(
            f"SQLite 数据库文件必须位于本单位的源库目录（{shown}）之内，不能使用 {text}",
            field="database",
        )
    for other in others:
        if resolved.is_relative_to(other):
            raise Forbidden("SQLite 数据库文件位于其他单位的源库目录中，不能使用", field="database")
    for kept in platform_paths(settings):
        if resolved == kept or resolved.is_relative_to(kept):
            raise Forbidden("SQLite 数据库文件是平台自身的文件，不能使用", field="database")
    try:
        stat = resolved.stat()
    except OSError:
        stat = None
    if stat is None or not resolved.is_file():
        raise Invalid(f"SQLite 数据库文件不存在：{text}（在源库目录 {shown} 中）", field="database")
    if stat.st_nlink > 1 or (stat.st_dev, stat.st_ino) in _identities(platform_paths(settings)):
        # A hard link shares its bytes with another name that no path check can see.
        raise Forbidden(
            f"SQLite 数据库文件 {text} 有多个硬链接，不能使用：请放入文件本身的副本",
            field="database",
        )
    return resolved


def refuse_platform_server(
    settings: Settings, *, kind: str, host: str, port: int | None, database: str
) -> None:
    """Forbidden when a network connection names the platform's own database, the data
    resource center or the portal's database (same server, port and database), whatever schema or user it gives."""
    own = [
        ("平台数据库", settings.database_url),
        ("数据资源中心", settings.center_database_url),
        ("开放门户数据库", settings.portal_database_url),
    ]
    wanted_port = port or DEFAULT_PORTS.get(kind)
    wanted_hosts: set[str] | None = None
    for label, url in own:
        try:
            parsed = make_url(url)
        except ArgumentError:
            continue
        backend = parsed.get_backend_name()
        if backend == "sqlite" or not parsed.database:
            continue
        if (parsed.port or DEFAULT_PORTS.get(backend)) != wanted_port:
            continue
        if parsed.database.lower() != database.lower():
            continue
        if wanted_hosts is None:
            wanted_hosts = _addresses(host)
        if wanted_hosts & _addresses(parsed.host or "localhost"):
            raise Forbidden(
                f"不能登记平台自身的数据库（{label}）为本单位的连接：请填写本单位自己的数据库",
                field="database",
            )


# --- inside --------------------------------------------------------------------------------


def _sqlite_database(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return ""
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return ""
    return parsed.database or ""


def _plain_path(given: str, *, field: str, what: str) -> str:
    """The path as typed, refused when it is not a plain file path: a SQLite URI
    (`file:…`), URI parameters (`?mode=`, `vfs=`), control or direction characters."""
    text = given.strip()
    if not text or text == ":memory:":
        raise Invalid(f"请填写{what}", field=field)
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise Invalid(f"{what}中不能有控制字符或方向控制字符", field=field)
    if text.lower().startswith("file:") or "://" in text:
        raise Invalid(f"{what}只能是文件路径，不能是 URI（如 file:…）", field=field)
    if URI_CHARACTERS & set(text):
        raise Invalid(f"{what}中不能有 ? # % & 等字符（SQLite 会把它们当作参数）", field=field)
    return text


def _check_directory(
    settings: Settings, data_dir: Path, resolved: Path, others: Iterable[Path], *, field: str
) -> None:
    shown = _shown(resolved, data_dir)
    if not resolved.is_relative_to(data_dir) or resolved == data_dir:
        raise Forbidden(f"源库目录必须是平台数据目录之下的子目录，{shown} 不是", field=field)
    for kept in platform_paths(settings):
        if resolved.is_relative_to(kept) or kept.is_relative_to(resolved):
            raise Forbidden(f"源库目录 {shown} 包含或位于平台自身的文件中", field=field)
    for other in others:
        other = Path(os.path.realpath(other))
        if resolved.is_relative_to(other) or other.is_relative_to(resolved):
            raise Forbidden(f"源库目录 {shown} 与其他单位的源库目录重叠", field=field)


def _shown(path: Path, data_dir: Path) -> str:
    return path.relative_to(data_dir).as_posix() if path.is_relative_to(data_dir) else str(path)


def _identities(paths: Iterable[Path]) -> set[tuple[int, int]]:
    found = set()
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.add((stat.st_dev, stat.st_ino))
    return found


def _addresses(host: str) -> set[str]:
    """The names a host is known by: itself, its addresses, and "loopback" for this machine
    (any loopback address, or an address of this server's own name)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    found = {name}
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        infos = []
    found |= {str(info[4][0]).split("%")[0] for info in infos}
    local = _local_addresses()
    if name in LOOPBACK_NAMES or any(_loopback(a) or a in local for a in found):
        found.add("loopback")
    return found


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def _local_addresses() -> set[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {str(info[4][0]).split("%")[0] for info in infos}
