"""The backup archive: its layout, its manifest and checksums, writing one, and checking one.

An archive is a directory (not a tar file): each part can be checked, read and restored where
it lies, and a damaged file spoils that file, not the rest. It is written under a `.partial`
name and renamed once its manifest and checksums are on disk, so a directory with the final
name is complete. Standard library only: `govshare backup verify` needs no database.

Checksums find damage (a flipped bit, a truncated copy, a missing file), not forgery: whoever
can rewrite a file can rewrite its checksum. The manifest's own SHA-256 is therefore also
written to the audit log when the backup is taken (`backup.create`), whose chain is the proof.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from govshare.core import clock
from govshare.core.errors import Conflict, Invalid

FORMAT = "govshare-backup"
VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
PARTIAL = ".partial"
NAME_PREFIX = "govshare-backup-"
NAME = re.compile(r"^govshare-backup-(\d{8})-(\d{6})$")
CHUNK = 1024 * 1024

# The parts of a backup, in the order they are written, checked and restored.
PARTS = ("platform", "center", "portal", "files", "secrets")
PART_LABELS = {
    "platform": "平台数据库",
    "center": "数据资源中心",
    "portal": "开放门户数据库",
    "files": "文件存储",
    "secrets": "密钥文件",
}

Progress = Callable[[str, int, int | None], None]  # (step, done, total or None if unknown)


def no_progress(_step: str, _done: int, _total: int | None) -> None:
    return None


def name_at(moment: datetime) -> str:
    """The archive's name for a moment: its date and time in the city."""
    return NAME_PREFIX + clock.to_city(moment).strftime("%Y%m%d-%H%M%S")


def taken_on(name: str) -> date | None:
    """The city date in an archive's name; None for a name that is not an archive's."""
    found = NAME.match(name)
    return datetime.strptime(found.group(1), "%Y%m%d").date() if found else None


def archives(directory: Path) -> list[Path]:
    """The complete archives in a directory, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if taken_on(p.name) is not None and p.is_dir() and (p / MANIFEST).is_file()
    )


def sha256_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    return digest.hexdigest()


def label(part: str) -> str:
    return f"{PART_LABELS.get(part, part)}（{part}）"


# --- writing -----------------------------------------------------------------------------


@dataclass
class Writer:
    """An archive being written into `parent`: `<name>.partial` until `finish` renames it."""

    parent: Path
    name: str
    entries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.final.exists() or self.root.exists():
            raise Conflict(f"备份 {self.final} 已存在", field="to")
        self.root.mkdir(mode=0o700)

    @property
    def root(self) -> Path:
        return self.parent / (self.name + PARTIAL)

    @property
    def final(self) -> Path:
        return self.parent / self.name

    def path(self, part: str, relative: str) -> Path:
        """Where a file of the part goes; its folders are made (owner only)."""
        target = self.root / part / relative
        for folder in reversed(target.relative_to(self.root).parents[:-1]):
            (self.root / folder).mkdir(mode=0o700, exist_ok=True)
        return target

    def seal(self, part: str, target: Path, *, size: int | None = None, sha256: str = "") -> None:
        """Records a written file of the part: flushed to disk, its size and SHA-256."""
        _fsync(target)
        relative = target.relative_to(self.root).as_posix()
        self.entries.setdefault(part, {})[relative] = {
            "size": target.stat().st_size if size is None else size,
            "sha256": sha256 or sha256_file(target),
        }

    def finish(self, manifest: dict[str, Any]) -> tuple[Path, str]:
        """Writes the manifest (each part's files filled in) and the checksums, then renames
        the archive into place. Returns its path and the manifest's SHA-256."""
        for part, entry in manifest["parts"].items():
            entry["files"] = dict(sorted(self.entries.get(part, {}).items()))
        body = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
        (self.root / MANIFEST).write_bytes(body)
        _fsync(self.root / MANIFEST)
        manifest_sha = hashlib.sha256(body).hexdigest()
        lines = [f"{manifest_sha}  {MANIFEST}"] + [
            f"{entry['sha256']}  {relative}"
            for files in self.entries.values()
            for relative, entry in files.items()
        ]
        (self.root / CHECKSUMS).write_text("\n".join(sorted(lines, key=_path_of)) + "\n")
        _fsync(self.root / CHECKSUMS)
        for folder in sorted({p for p in self.root.rglob("*") if p.is_dir()}, reverse=True):
            _fsync(folder)
        _fsync(self.root)
        os.rename(self.root, self.final)
        _fsync(self.parent)
        return self.final, manifest_sha

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _path_of(line: str) -> str:
    return line.split("  ", 1)[1]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def manifest_sha256(archive: Path) -> str:
    return sha256_file(archive / MANIFEST)


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of an archive `verify` has passed."""
    return json.loads((archive / MANIFEST).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# --- checking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What checking an archive found: intact, or the first bad part and why."""

    ok: bool
    message: str
    part: str | None = None
    manifest: dict[str, Any] | None = None
    files: int = 0
    size: int = 0


class _Bad(Exception):
    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.part = part


def verify(archive: Path, *, progress: Progress = no_progress) -> Verification:
    """Checks that the manifest is complete and that every file is there with its size and
    SHA-256 (by the manifest and by `SHA256SUMS`), part by part in `PARTS` order."""
    if not archive.is_dir():
        raise Invalid(f"备份 {archive} 不存在或不是目录", field="path")
    try:
        manifest, files, size = _check(archive, progress)
    except _Bad as bad:
        where = f"{label(bad.part)}：" if bad.part else ""
        return Verification(False, f"备份校验未通过：{where}{bad.message}", bad.part)
    created = manifest.get("created_at", "")
    return Verification(
        True,
        f"备份完整：{len(PARTS)} 个部分、{files} 个文件、{size_text(size)} 已逐一校验"
        f"（创建于 {created}，govshare {manifest.get('govshare_version', '?')}，"
        f"数据库版本 {manifest.get('alembic_revision', '?')}）",
        manifest=manifest,
        files=files,
        size=size,
    )


def _check(archive: Path, progress: Progress) -> tuple[dict[str, Any], int, int]:
    if not (archive / MANIFEST).is_file():
        raise _Bad(f"备份不完整：缺少清单文件 {MANIFEST}")
    if not (archive / CHECKSUMS).is_file():
        raise _Bad(f"备份不完整：缺少校验和文件 {CHECKSUMS}")
    sums = _read_checksums(archive / CHECKSUMS)
    if MANIFEST not in sums:
        raise _Bad(f"校验和文件 {CHECKSUMS} 没有列出清单文件 {MANIFEST}")
    if sha256_file(archive / MANIFEST) != sums[MANIFEST]:
        raise _Bad(f"清单文件 {MANIFEST} 已损坏：SHA-256 与 {CHECKSUMS} 不符")
    manifest = _read_manifest(archive)
    listed = {MANIFEST}
    total = sum(
        entry["size"]
        for part in PARTS
        for entry in manifest["parts"][part]["files"].values()
        if isinstance(entry, dict) and isinstance(entry.get("size"), int)
    )
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress("校验备份", done, total)

    for part in PARTS:
        for relative, entry in sorted(manifest["parts"][part]["files"].items()):
            _check_file(archive, part, relative, entry, sums, advance)
            listed.add(relative)
    unlisted = sorted(set(sums) - listed)
    if unlisted:
        raise _Bad(f"校验和文件 {CHECKSUMS} 列出了清单之外的文件 {unlisted[0]}")
    planted = sorted(set(_files_in(archive)) - listed - {CHECKSUMS})
    if planted:
        raise _Bad(f"备份中有清单之外的文件 {planted[0]}")
    return manifest, len(listed) - 1, total


def _read_checksums(path: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise _Bad(f"校验和文件 {CHECKSUMS} 已损坏") from None
    for number, line in enumerate(lines, 1):
        found = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not found:
            raise _Bad(f"校验和文件 {CHECKSUMS} 第 {number} 行格式不对")
        sums[found.group(2)] = found.group(1)
    return sums


def _read_manifest(archive: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((archive / MANIFEST).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Bad(f"清单文件 {MANIFEST} 不是合法的 JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _Bad("这不是 govshare 的备份（清单格式不符）")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise _Bad(f"备份格式版本 {version} 高于本程序支持的 {VERSION}，请使用更新版本的 govshare")
    for key in ("created_at", "govshare_version", "alembic_revision", "parts"):
        if key not in manifest:
            raise _Bad(f"备份不完整：清单缺少 {key}")
    parts = manifest["parts"]
    if not isinstance(parts, dict):
        raise _Bad("备份不完整：清单缺少各部分的记录")
    for part in PARTS:
        entry = parts.get(part)
        if not isinstance(entry, dict):
            raise _Bad("备份不完整：清单中没有这一部分", part)
        for key in ("kind", "files"):
            if key not in entry:
                raise _Bad(f"清单中这一部分的记录不完整（缺少 {key}）", part)
        if part in ("platform", "center", "portal") and not isinstance(entry.get("tables"), dict):
            raise _Bad("清单中这一部分的记录不完整（缺少各表行数）", part)
        if not isinstance(entry["files"], dict):
            raise _Bad("清单中这一部分的文件列表不完整", part)
    return manifest


def _check_file(
    archive: Path,
    part: str,
    relative: str,
    entry: Any,
    sums: dict[str, str],
    advance: Callable[[int], None],
) -> None:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or path.parts[0] != part:
        raise _Bad(f"清单中的文件路径不合法：{relative}", part)
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
    ):
        raise _Bad(f"清单中文件 {relative} 的记录不完整", part)
    if sums.get(relative) != entry["sha256"]:
        raise _Bad(f"校验和文件 {CHECKSUMS} 与清单不一致：{relative}", part)
    target = archive / relative
    if not target.is_file():
        raise _Bad(f"备份不完整：缺少文件 {relative}", part)
    actual = target.stat().st_size
    if actual != entry["size"]:
        raise _Bad(
            f"文件 {relative} 已损坏：大小应为 {entry['size']} 字节，实为 {actual} 字节", part
        )
    if sha256_file(target, advance) != entry["sha256"]:
        raise _Bad(f"文件 {relative} 已损坏：SHA-256 与清单不符", part)


def _files_in(archive: Path) -> Iterator[str]:
    for path in archive.rglob("*"):
        if not path.is_dir():
            yield path.relative_to(archive).as_posix()


def size_text(size: int) -> str:
    """A size as the console shows it (1.2 MB)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} 字节"
