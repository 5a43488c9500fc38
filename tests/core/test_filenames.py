"""The one rule for uploaded file names, and the places that apply it: file resources,
application attachments."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from govshare.core.errors import Invalid
from govshare.core.filenames import check_filename
from govshare.exchange.filestore import LocalStore
from govshare.exchange.models import FileVersion
from govshare.exchange.service import files
from govshare.sharing.schemas import Upload
from govshare.sharing.service.applications import check_uploads
from tests.builders import count
from tests.exchange.file_scenarios import file_world

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
REFUSED = {
    "right-to-left override": "报告\u202egpj.exe",
    "left-to-right embedding": "\u202a报告.pdf",
    "right-to-left embedding": "\u202b报告.pdf",
    "pop directional formatting": "报告\u202c.pdf",
    "left-to-right override": "\u202d报告.pdf",
    "left-to-right isolate": "\u2066报告.pdf",
    "right-to-left isolate": "\u2067报告.pdf",
    "first strong isolate": "\u2068报告.pdf",
    "pop directional isolate": "报告\u2069.pdf",
    "left-to-right mark": "报告\u200e.pdf",
    "right-to-left mark": "报告\u200f.pdf",
    "NUL": "报告\x00.pdf",
    "newline": "报告\n.pdf",
    "escape": "\x1b[31m报告.pdf",
    "delete": "报告\x7f.pdf",
    "C1 control": "报告\x85.pdf",
    "blank": "   ",
    "empty": "",
    "dot-dot": "..",
    "path ending in a separator": "C:\\材料\\",
}


@pytest.mark.parametrize("name", REFUSED.values(), ids=REFUSED.keys())
def test_a_name_with_control_or_direction_characters_is_refused(name: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_filename(name, field="file")
    assert refused.value.field == "file"


def test_a_plain_name_is_its_last_path_part() -> None:
    assert check_filename("C:\\材料\\2026年 公交线路.csv", field="file") == "2026年 公交线路.csv"
    assert check_filename("  report (final).pdf ", field="file") == "report (final).pdf"
    assert check_filename("رپورٹ.pdf", field="file") == "رپورٹ.pdf"  # right-to-left script is fine
    with pytest.raises(Invalid, match="不能超过 10 个字符"):
        check_filename("a" * 11, field="file", max_length=10)


def test_a_file_resource_refuses_a_right_to_left_override_name(db: Session, tmp_path: Path) -> None:
    fw = file_world(db)
    with pytest.raises(Invalid) as refused:
        files.upload_version(
            db,
            actor=fw.provider_staff,
            store=LocalStore(tmp_path / "files"),
            resource_code=fw.code,
            filename="公交线路\u202evsc.exe",
            content_type="text/csv",
            chunks=iter([b"a,b\r\n1,2\r\n"]),
        )
    assert refused.value.field == "file" and "方向控制字符" in refused.value.message
    assert count(db, FileVersion) == 0


def test_an_attachment_refuses_a_right_to_left_override_name() -> None:
    sealed = Upload(
        kind="sealed_letter",
        filename="申请函\u202efdp.exe",
        content_type="application/pdf",
        content=PDF,
    )
    with pytest.raises(Invalid) as refused:
        check_uploads([sealed], [])
    assert refused.value.field == "attachments[0]"
    check_uploads([sealed.model_copy(update={"filename": "申请函.pdf"})], [])
