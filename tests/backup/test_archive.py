"""Checking a backup: every checksum and a complete manifest, or the first bad part named."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govshare.backup import archive as archives
from govshare.backup.audit import record_verification
from govshare.backup.create import create
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor
from tests.backup.conftest import Deployment, build, dispose

OPERATOR = Actor.command_line("test")


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Path]]:
    """One deployment and its backup for the module (these tests damage copies of it)."""
    where = tmp_path_factory.mktemp("archive")
    deployment = build("sqlite", where / "data")
    yield deployment, create(deployment.runtime, actor=OPERATOR, to=where / "backups").path
    dispose(deployment)


@pytest.fixture
def archive(taken: tuple[Deployment, Path], tmp_path: Path) -> Path:
    """A copy of the module's backup, under its own name."""
    return Path(shutil.copytree(taken[1], tmp_path / taken[1].name))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x20
    path.write_bytes(bytes(data))


def _rewrite(archive: Path, change: Any) -> None:
    """Changes the manifest and its line in SHA256SUMS, as someone covering their tracks would."""
    manifest = archives.read_manifest(archive)
    change(manifest)
    body = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    (archive / "manifest.json").write_bytes(body)
    sums = (archive / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256(body).hexdigest()
    fixed = [
        f"{digest}  manifest.json" if line.endswith("  manifest.json") else line for line in sums
    ]
    (archive / "SHA256SUMS").write_text("\n".join(fixed) + "\n")


def test_an_untouched_backup_verifies(archive: Path) -> None:
    result = archives.verify(archive)
    assert result.ok, result.message
    # the three databases, two stored files and the secret key
    assert result.files == 6
    assert result.message.startswith("备份完整：5 个部分、6 个文件、")


def test_a_flipped_byte_in_a_stored_file_names_the_file_store(archive: Path) -> None:
    stored = min(p for p in (archive / "files").rglob("*") if p.is_file())
    _flip(stored)
    result = archives.verify(archive)
    assert not result.ok and result.part == "files"
    relative = stored.relative_to(archive).as_posix()
    assert result.message == (
        f"备份校验未通过：文件存储（files）：文件 {relative} 已损坏：SHA-256 与清单不符"
    )


def test_a_missing_secret_key_is_named(archive: Path) -> None:
    (archive / "secrets" / "secret_key").unlink()
    result = archives.verify(archive)
    assert (result.ok, result.part) == (False, "secrets")
    assert result.message.endswith("密钥文件（secrets）：备份不完整：缺少文件 secrets/secret_key")


def test_a_truncated_database_says_its_size(archive: Path) -> None:
    copy = archive / "platform" / "govshare.db"
    size = copy.stat().st_size
    copy.write_bytes(copy.read_bytes()[: size - 4096])
    result = archives.verify(archive)
    assert result.part == "platform"
    assert f"大小应为 {size} 字节，实为 {size - 4096} 字节" in result.message


def test_a_damaged_manifest_is_named(archive: Path) -> None:
    _flip(archive / "manifest.json")
    result = archives.verify(archive)
    assert not result.ok
    assert (
        result.message
        == "备份校验未通过：清单文件 manifest.json 已损坏：SHA-256 与 SHA256SUMS 不符"
    )


def test_a_manifest_without_a_part_is_incomplete(archive: Path) -> None:
    _rewrite(archive, lambda manifest: manifest["parts"].pop("portal"))
    result = archives.verify(archive)
    assert (result.ok, result.part) == (False, "portal")
    assert (
        result.message == "备份校验未通过：开放门户数据库（portal）：备份不完整：清单中没有这一部分"
    )


def test_a_part_without_its_row_counts_is_incomplete(archive: Path) -> None:
    _rewrite(archive, lambda manifest: manifest["parts"]["center"].pop("tables"))
    result = archives.verify(archive)
    assert result.part == "center" and "缺少各表行数" in result.message


def test_a_file_the_manifest_does_not_list_is_found(archive: Path) -> None:
    (archive / "files" / "planted.pdf").write_bytes(b"%PDF-1.4\n")
    result = archives.verify(archive)
    assert result.message == "备份校验未通过：备份中有清单之外的文件 files/planted.pdf"


def test_an_unfinished_backup_is_incomplete(archive: Path) -> None:
    (archive / "manifest.json").unlink()
    result = archives.verify(archive)
    assert result.message == "备份校验未通过：备份不完整：缺少清单文件 manifest.json"


def test_a_path_that_is_no_backup_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="不存在或不是目录"):
        archives.verify(tmp_path / "nowhere")


def test_a_manifest_rewritten_with_its_checksums_is_caught_by_the_audit_log(
    taken: tuple[Deployment, Path], archive: Path
) -> None:
    def fewer_rows(manifest: dict[str, Any]) -> None:
        manifest["parts"]["platform"]["tables"]["user_account"] -= 1

    _rewrite(archive, fewer_rows)
    inside = archives.verify(archive)
    assert inside.ok  # the archive's own checksums agree with one another
    with taken[0].runtime.transaction() as db:
        result = record_verification(db, actor=OPERATOR, archive=archive, result=inside)
    assert not result.ok
    assert "清单文件与审计日志第" in result.message and "SHA-256 不符" in result.message
