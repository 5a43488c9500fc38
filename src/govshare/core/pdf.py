"""PDF documents in the city's name (通报, 考核报告), with Chinese text.

reportlab lays the document out. Chinese needs a CJK font: a TrueType font is embedded when
one is configured (the setting `pdf_font`, `GOVSHARE_PDF_FONT`: a .ttf or .ttc file) or found among the usual
system fonts (Debian's fonts-wqy-microhei, Noto CJK), so the file shows the same everywhere;
otherwise the document names reportlab's built-in Adobe CID font STSong-Light, which PDF
readers supply themselves. reportlab is imported on first use only, so a process that never
writes a PDF never loads it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEDIA_TYPE = "application/pdf"
CANDIDATE_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
EMBEDDED, BUILT_IN = "GovshareCJK", "STSong-Light"


def font_file(configured: str = "") -> Path | None:
    """The TrueType font to embed: the configured one, else the first system font found."""
    configured = configured.strip()
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return next((Path(p) for p in CANDIDATE_FONTS if Path(p).is_file()), None)


def register_font(configured: str = "") -> str:
    """Registers the CJK font with reportlab (once per file) and returns its name."""
    from reportlab.pdfbase import pdfmetrics

    registered = pdfmetrics.getRegisteredFontNames()
    path = font_file(configured)
    if path is not None:
        name = f"{EMBEDDED}-{_digest(path)}"
        if name not in registered:
            from reportlab.pdfbase.ttfonts import TTFont

            try:
                pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
            except Exception:  # a font reportlab cannot read: fall back to the CID font
                return _built_in()
        return name
    return _built_in()


def _digest(path: Path) -> str:
    """A short name for a font file, so two configured files never share a registration."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]


def _built_in() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if BUILT_IN not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(BUILT_IN))
    return BUILT_IN


@dataclass
class Table:
    """A table of the document: a header row, the rows, relative column widths."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    widths: Sequence[float] = ()


@dataclass
class Document:
    """A document in the city's name: issuer on top, a number, a title, paragraphs and
    tables in order, and the issuer and date at the foot."""

    title: str
    issuer: str = ""
    number: str = ""
    blocks: list[str | Table] = field(default_factory=list)
    signed_on: str = ""  # 2026年12月8日
    copy_note: str = ""
    landscape: bool = False


def render(document: Document, *, font_path: str = "") -> bytes:
    """The document as PDF bytes (A4)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus.flowables import HRFlowable

    font = register_font(font_path)
    size = landscape(A4) if document.landscape else A4

    def style(name: str, points: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=points, leading=points * 1.6, wordWrap="CJK", **extra
        )

    issuer = style("issuer", 20, alignment=TA_CENTER, textColor=colors.HexColor("#c00000"))
    number = style("number", 11, alignment=TA_CENTER)
    title = style("title", 16, alignment=TA_CENTER, spaceBefore=6, spaceAfter=10)
    body = style("body", 11.5, firstLineIndent=23)
    first = style("first", 11.5)
    cell = style("cell", 9)
    right = style("right", 11.5, alignment=TA_RIGHT)
    small = style("small", 9, textColor=colors.HexColor("#555555"), spaceBefore=12)

    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=size,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=document.title,
        author=document.issuer,
    )
    story: list[Any] = []
    if document.issuer:
        story.append(Paragraph(_escape(document.issuer), issuer))
    if document.number:
        story.append(Paragraph(_escape(document.number), number))
    if document.issuer or document.number:
        story.append(HRFlowable(width="100%", thickness=1.2, color=colors.HexColor("#c00000")))
    story.append(Paragraph(_escape(document.title), title))
    paragraphs = 0
    for block in document.blocks:
        if isinstance(block, Table):
            story.append(Spacer(1, 4))
            story.append(_table(block, cell, template.width, PdfTable, TableStyle, colors, font))
            story.append(Spacer(1, 6))
        else:
            story.append(Paragraph(_escape(block), first if paragraphs == 0 else body))
            paragraphs += 1
    if document.signed_on:
        story.append(Spacer(1, 18))
        if document.issuer:
            story.append(Paragraph(_escape(document.issuer), right))
        story.append(Paragraph(_escape(document.signed_on), right))
    if document.copy_note:
        story.append(Paragraph(_escape(document.copy_note), small))
    template.build(story)
    return out.getvalue()


def _table(
    table: Table, cell: Any, width: float, pdf_table: Any, table_style: Any, colors: Any, font: str
) -> Any:
    from reportlab.platypus import Paragraph

    data = [[Paragraph(_escape(str(h)), cell) for h in table.header]]
    data += [[Paragraph(_escape(str(v)), cell) for v in row] for row in table.rows]
    widths = list(table.widths) or [1.0] * len(table.header)
    scale = width / sum(widths)
    shown = pdf_table(data, colWidths=[w * scale for w in widths], repeatRows=1)
    shown.setStyle(
        table_style(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return shown


def _escape(text: str) -> str:
    """Plain text for reportlab's mini-markup: nothing in it is taken as a tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def circular(
    *,
    issuer: str,
    number: str,
    title: str,
    paragraphs: Sequence[str],
    signed_on: str,
    copy_note: str,
    font_path: str = "",
) -> bytes:
    """A circulated notice (通报) as the printable page shows it."""
    return render(
        Document(
            title=title,
            issuer=issuer,
            number=number,
            blocks=list(paragraphs),
            signed_on=signed_on,
            copy_note=copy_note,
        ),
        font_path=font_path,
    )
