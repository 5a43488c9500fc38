"""PDF documents: Chinese text set in an embedded TrueType font where one is found, else in
reportlab's built-in CID font, and readable back either way."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from govshare.core import pdf

DOCUMENT = pdf.Document(
    title="关于市民政局逾期未完成整改的通报",
    issuer="江州市数据局",
    number="TB2026000001",
    blocks=[
        "市民政局：",
        "平台监测发现<数据>未按周期更新 & 未整改。",
        pdf.Table(["部门", "得分"], [["市公安局", "95.50"]]),
    ],
    signed_on="2026年12月8日",
)


def _text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_system_cjk_font_is_embedded() -> None:
    if pdf.font_file() is None:
        pytest.skip("no CJK TrueType font on this machine (scripts/test installs one)")
    content = pdf.render(DOCUMENT)
    assert pdf.register_font().startswith(pdf.EMBEDDED)
    assert b"/FontFile2" in content  # the glyphs travel with the file
    text = _text(content)
    assert "关于市民政局逾期未完成整改的通报" in text
    assert "<数据>未按周期更新 & 未整改" in text and "95.50" in text


def test_without_a_font_file_the_built_in_cid_font_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.ttf")
    assert pdf.font_file(missing) is None
    assert pdf.register_font(missing) == pdf.BUILT_IN
    content = pdf.render(DOCUMENT, font_path=missing)
    assert b"STSong-Light" in content and b"/FontFile2" not in content
    assert "江州市数据局" in _text(content)
