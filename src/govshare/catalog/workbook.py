"""The catalog workbook (CAT-8): its sheets and columns, writing it, and reading it back
cell by cell with every problem placed at its sheet, row and column. No database here; the
rules that need the platform's data live in `catalog.service.spreadsheet_import`.

The layout follows the columns of the national catalog guide as compilers fill them in:
sheet 资源目录 (one row per resource), sheet 信息项 (one row per data item, tied to its
resource by code or name), sheet 填写说明 (instructions and allowed values) and a hidden
sheet 代码表 that feeds the dropdowns. Cells carry Chinese labels, never enum values.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic_core import ErrorDetails

from govshare.catalog.models import (
    CatalogKind,
    DataType,
    Domain,
    Labelled,
    OpenType,
    ResourceFormat,
    ShareMethod,
    ShareType,
    UpdateFrequency,
)
from govshare.catalog.service.contents import LABELS_TOPIC
from govshare.core.errors import Invalid
from govshare.core.spreadsheet import csv_cell

MAX_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 400 * 1024 * 1024
MAX_ROWS = {"资源目录": 5_000, "信息项": 200_000}
RESOURCE_SHEET, ITEM_SHEET, GUIDE_SHEET, LIST_SHEET = "资源目录", "信息项", "填写说明", "代码表"
YES, NO = "是", "否"
SEPARATORS = re.compile(r"[、,，;；\n]+")


@dataclass(frozen=True)
class Column:
    """One column of a sheet: what it holds, and what the compiler is told about it."""

    key: str
    header: str
    width: int
    required: bool = False
    note: str = ""
    choices: tuple[str, ...] = ()
    strict: bool = True  # the dropdown refuses other text (共享方式 takes several values)
    text: bool = False  # digits kept as typed ("01" stays "01")


def labels(enum: type[Labelled]) -> tuple[str, ...]:
    """The labels of an enum's members, in order."""
    return tuple(m.label for m in enum)


C = Column
RESOURCE_COLUMNS = (
    C(
        "code",
        "资源代码",
        17,
        note="留空由平台分配；填写时格式为“分类码/6位顺序号”，且须未被使用",
        text=True,
    ),
    C("name", "资源名称", 28, True),
    C("provider", "资源提供方", 24, note="平台登记的单位全称；填写时须与提供方代码一致"),
    C(
        "provider_uscc",
        "提供方代码",
        21,
        note="统一社会信用代码（18位）；部门导入本单位目录时可留空",
        text=True,
    ),
    C("catalog_kind", "目录类型", 18, True, choices=labels(CatalogKind)),
    C(
        "base_topic",
        "基础目录主题",
        14,
        note="基础信息资源必填，其他留空",
        choices=tuple(LABELS_TOPIC.values()),
    ),
    C("theme", "主题目录", 16, note="主题信息资源必填：平台已设立的主题目录名称；其他留空"),
    C(
        "item_code",
        "资源分类·项",
        11,
        note="2位数字，留空为01；“类”由目录类型决定（基础1、主题2、部门3）",
        text=True,
    ),
    C("group_code", "资源分类·目", 11, note="3位数字，留空为001", text=True),
    C("subgroup_code", "资源分类·细目", 12, note="3位数字，可留空", text=True),
    C("summary", "资源摘要", 40, True, "资源的内容、覆盖范围和用途，至少4个字"),
    C("format", "资源格式", 12, True, choices=labels(ResourceFormat)),
    C("format_detail", "格式细类", 14, note="如 PostgreSQL、PDF、REST"),
    C("share_type", "共享类型", 12, True, choices=labels(ShareType)),
    C("share_conditions", "共享条件", 24, note="有条件共享必填"),
    C(
        "legal_basis",
        "共享依据",
        24,
        note="有条件共享、不予共享必填：法律、行政法规或国家、省政策依据",
    ),
    C("share_scope", "共享范围", 16),
    C(
        "share_methods",
        "共享方式",
        24,
        True,
        "可填多项，用“、”分隔",
        labels(ShareMethod),
        strict=False,
    ),
    C("offline_reason", "线下共享原因", 20, note="共享方式含邮件或介质时必填"),
    C("update_frequency", "更新周期", 10, True, choices=labels(UpdateFrequency)),
    C("timeliness", "时效要求", 14),
    C("open_type", "开放属性", 12, note="留空视为不予开放", choices=labels(OpenType)),
    C("open_conditions", "开放条件", 20, note="有条件开放必填"),
    C("domain", "所属领域", 12, True, choices=labels(Domain)),
    C(
        "published_on",
        "发布日期",
        12,
        note="导出时填写；平台管理单位导入并直接发布时沿用，其他情况忽略",
    ),
    C(
        "related_codes",
        "关联资源代码",
        22,
        note="多个用“、”分隔；须为平台上已有或本文件中的资源代码",
        text=True,
    ),
    C("version", "版本", 6, note="导出时填写，导入时忽略"),
)
ITEM_COLUMNS = (
    C("code", "资源代码", 17, note="与“资源目录”表中该资源的资源代码一致", text=True),
    C("resource_name", "资源名称", 28, note="资源代码留空时，按资源名称对应“资源目录”表中的资源"),
    C("position", "序号", 6, note="信息项在资源中的顺序，从1开始；留空按行的先后"),
    C("name", "信息项名称", 24, True),
    C("data_type", "数据类型", 14, True, choices=labels(DataType)),
    C("length", "长度", 8, note="字符型、数值型必填，正整数"),
    C("description", "描述", 30),
    C("personal", "是否个人信息", 12, note="留空视为否", choices=(YES, NO)),
)
SHEETS = {RESOURCE_SHEET: RESOURCE_COLUMNS, ITEM_SHEET: ITEM_COLUMNS}
CSV_ITEM_COLUMNS = tuple(c for c in ITEM_COLUMNS if c.key not in ("code", "resource_name"))
GUIDE = (
    "政务信息资源目录 填写说明",
    "1. “资源目录”表每行一个资源；“信息项”表每行一个信息项，用资源代码（或资源名称）对应到资源。",
    "2. 表头为深红色的列必填；带下拉列表的列请从列表中选择，填写的是中文名称。鼠标停在表头上可看到该列的说明。",
    "3. 导入时逐行逐格检查，有任何一处错误整份文件都不导入，并列出每处错误所在的工作表、行和列。",
    "4. 部门导入的资源成为本单位的草稿，由数据专员提交审核；平台管理单位导入时可直接发布。",
    "5. 请勿修改表头文字和工作表名称；表头下方的行可以增删。",
)

# --- writing ---------------------------------------------------------------------------

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
REQUIRED_FILL = PatternFill("solid", fgColor="9C2A1E")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
LIST_COLUMN = {
    (title, c.key): n
    for n, (title, c) in enumerate(
        ((t, c) for t, cols in SHEETS.items() for c in cols if c.choices), start=1
    )
}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value) or None
    return value


def _header(ws: Any, columns: tuple[Column, ...]) -> None:
    for index, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=index, value=column.header)
        cell.font, cell.border = HEADER_FONT, BORDER
        cell.fill = REQUIRED_FILL if column.required else HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if column.note:
            cell.comment = Comment(column.note, "govshare", width=260, height=90)
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        if column.text:
            ws.column_dimensions[letter].number_format = "@"
    ws.row_dimensions[1].height = 30


def _dropdowns(ws: Any, title: str, columns: tuple[Column, ...]) -> None:
    for index, column in enumerate(columns, start=1):
        if not column.choices:
            continue
        source = get_column_letter(LIST_COLUMN[(title, column.key)])
        rule = DataValidation(
            type="list",
            formula1=f"'{LIST_SHEET}'!${source}$2:${source}${len(column.choices) + 1}",
            allow_blank=True,
            showErrorMessage=column.strict,
            errorTitle=f"{column.header}取值无效",
            error=f"请从下拉列表中选择{column.header}",
        )
        letter = get_column_letter(index)
        rule.add(f"{letter}2:{letter}{MAX_ROWS[title] + 1}")
        ws.add_data_validation(rule)


def _data_sheet(wb: Workbook, title: str, rows: Iterable[dict[str, Any]]) -> None:
    columns = SHEETS[title]
    ws = wb.create_sheet(title)
    _header(ws, columns)
    ws.freeze_panes = "C2" if title == RESOURCE_SHEET else "A2"
    for row_number, row in enumerate(rows, start=2):
        for index, column in enumerate(columns, start=1):
            value = _clean(row.get(column.key))
            if value is None:
                continue
            cell = ws.cell(row=row_number, column=index, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text starting with "=" stays text, never a formula
                if column.text:
                    cell.number_format = "@"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    _dropdowns(ws, title, columns)


def _guide_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet(GUIDE_SHEET)
    for row, line in enumerate(GUIDE, start=1):
        ws.cell(row=row, column=1, value=line).font = Font(
            bold=row == 1, size=14 if row == 1 else 11
        )
    start = len(GUIDE) + 2
    for index, header in enumerate(("工作表", "列", "是否必填", "填写说明", "可选值"), start=1):
        cell = ws.cell(row=start, column=index, value=header)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
    row = start
    for title, columns in SHEETS.items():
        for column in columns:
            row += 1
            values = (title, column.header, YES if column.required else "", column.note)
            for index, value in enumerate((*values, "、".join(column.choices)), start=1):
                cell = ws.cell(row=row, column=index, value=value or None)
                cell.border = BORDER
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDE", (10, 16, 9, 60, 70), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = ws.cell(row=start + 1, column=1)


def _lists_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet(LIST_SHEET)
    ws.sheet_state = "hidden"
    for (title, key), index in LIST_COLUMN.items():
        column = next(c for c in SHEETS[title] if c.key == key)
        ws.cell(row=1, column=index, value=column.header)
        for row, label in enumerate(column.choices, start=2):
            ws.cell(row=row, column=index, value=label)


def write_workbook(
    resource_rows: Iterable[dict[str, Any]], item_rows: Iterable[dict[str, Any]]
) -> bytes:
    """The catalog workbook holding `resource_rows` and `item_rows` (dicts by column key)."""
    wb = Workbook()
    wb.remove(wb.active)
    _data_sheet(wb, RESOURCE_SHEET, resource_rows)
    _data_sheet(wb, ITEM_SHEET, item_rows)
    _guide_sheet(wb)
    _lists_sheet(wb)
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_csv(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> bytes:
    """One line per (resource row, item row), resource columns repeated; UTF-8 with a BOM
    so that Excel opens it in the right encoding."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in (*RESOURCE_COLUMNS, *CSV_ITEM_COLUMNS)])
    for resource, item in rows:
        writer.writerow(
            [csv_cell(resource.get(c.key)) for c in RESOURCE_COLUMNS]
            + [csv_cell(item.get(c.key)) for c in CSV_ITEM_COLUMNS]
        )
    return ("\ufeff" + out.getvalue()).encode()


# --- reading ---------------------------------------------------------------------------


@dataclass
class Problems:
    """Every problem found in a file, each at its sheet, row and column."""

    headers: dict[str, dict[str, int]] = field(default_factory=dict)
    found: list[tuple[int, int, int, str, dict[str, Any]]] = field(default_factory=list)

    def column(self, sheet: str, key: str) -> tuple[int, str]:
        """The column's position and its name as the compiler sees it ("B 资源名称")."""
        column = next((c for c in SHEETS[sheet] if c.key == key), None)
        header = column.header if column else key
        index = self.headers.get(sheet, {}).get(key)
        if index is None:
            return 999, f"{header}（表中无此列）"
        return index, f"{get_column_letter(index + 1)} {header}"

    def add(self, sheet: str, row: int, key: str, message: str) -> None:
        index, label = self.column(sheet, key)
        entry = {"sheet": sheet, "row": row, "column": label, "message": message}
        self.found.append((list(SHEETS).index(sheet), row, index, key, entry))

    def flagged(self, sheet: str, row: int) -> set[str]:
        """The columns of one row that already have a problem."""
        where = (list(SHEETS).index(sheet), row)
        return {key for s, r, _, key, _ in self.found if (s, r) == where}

    def entries(self) -> list[dict[str, Any]]:
        """The problems in reading order: sheet, row, column."""
        return [f[4] for f in sorted(self.found, key=lambda f: f[:3])]

    def raise_if_any(self) -> None:
        """Refuses the file, listing every problem, if there is one."""
        if self.found:
            errors = self.entries()
            raise Invalid(
                f"导入文件有 {len(errors)} 处错误，未导入任何内容；请逐条改正后重新导入",
                field="file",
                errors=errors,
            )


@dataclass
class Row:
    """One filled row of a sheet: its row number as Excel shows it, and its cells by key."""

    sheet: str
    number: int
    cells: dict[str, Any]

    def text(self, key: str) -> str:
        """The cell as text, the way the compiler typed it."""
        value = self.cells.get(key)
        if value is None:
            return ""
        if isinstance(value, bool):
            return YES if value else NO
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return str(value).strip()


def _header_key(text: Any) -> str:
    return re.sub(r"[\s*＊]|[（(]必填[）)]", "", str(text or ""))


def read_workbook(content: bytes, problems: Problems) -> dict[str, list[Row]]:
    """The filled rows of both data sheets; a file that is not the template is refused."""
    if len(content) > MAX_BYTES:
        raise Invalid(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分批导入", field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:  # a "zip bomb" would fill the memory
            raise Invalid("文件解压后过大，请分批导入", field="file")
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        message = "文件不是有效的 Excel（.xlsx）文件，请使用平台提供的模板"
        raise Invalid(message, field="file") from None
    try:
        if RESOURCE_SHEET not in wb.sheetnames:
            message = f"文件中没有“{RESOURCE_SHEET}”工作表，请使用平台提供的模板"
            raise Invalid(message, field="file")
        sheets = {
            title: _rows(wb[title], title, problems) if title in wb.sheetnames else []
            for title in SHEETS
        }
    finally:
        wb.close()
    problems.raise_if_any()  # missing columns: the rows cannot be read
    return sheets


def _rows(ws: Any, title: str, problems: Problems) -> list[Row]:
    rows = ws.iter_rows(values_only=True, max_col=80)
    by_text = {_header_key(v): i for i, v in enumerate(next(rows, ())) if v is not None}
    found = {c.key: by_text[c.header] for c in SHEETS[title] if c.header in by_text}
    problems.headers[title] = found
    for column in SHEETS[title]:
        if column.required and column.key not in found:
            problems.add(title, 1, column.key, f"缺少必填列“{column.header}”")
    out: list[Row] = []
    for number, values in enumerate(rows, start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if len(out) >= MAX_ROWS[title]:
            raise Invalid(f"“{title}”表超过 {MAX_ROWS[title]} 行，请分批导入", field="file")
        cells = {key: values[i] if i < len(values) else None for key, i in found.items()}
        row = Row(title, number, cells)
        for column in SHEETS[title]:
            if column.required and not row.text(column.key):
                problems.add(title, number, column.key, "必填")
        out.append(row)
    return out


# --- cells -----------------------------------------------------------------------------


def coded(enum: type[Labelled], row: Row, key: str, problems: Problems) -> Any:
    """The member whose label (or value) the cell holds; None if blank or unknown."""
    text = row.text(key)
    if not text:
        return None
    member = enum.from_label(text)
    if member is None:
        header = next(c.header for c in SHEETS[row.sheet] if c.key == key)
        message = f"“{text}”不是有效的{header}，可选：{'、'.join(labels(enum))}"
        problems.add(row.sheet, row.number, key, message)
    return member


def several(enum: type[Labelled], row: Row, key: str, problems: Problems) -> list[Any] | None:
    """Members named in one cell, separated by 、 (None if any is unknown)."""
    members = []
    for text in SEPARATORS.split(row.text(key)):
        if text.strip():
            member = enum.from_label(text)
            if member is None:
                header = next(c.header for c in SHEETS[row.sheet] if c.key == key)
                message = f"“{text.strip()}”不是有效的{header}，可选：{'、'.join(labels(enum))}"
                problems.add(row.sheet, row.number, key, message)
            members.append(member)
    return None if None in members else list(dict.fromkeys(members))


def digits(row: Row, key: str, width: int, problems: Problems) -> str | None:
    """A code of exactly `width` digits (leading zeros Excel dropped are put back)."""
    value, text = row.cells.get(key), row.text(key)
    if not text:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and len(text) <= width:
        text = text.zfill(width)
    if not re.fullmatch(rf"\d{{{width}}}", text):
        problems.add(row.sheet, row.number, key, f"“{text}”无效，须为{width}位数字")
        return None
    return text


def positive(row: Row, key: str, problems: Problems) -> int | None:
    """A positive whole number."""
    value, text = row.cells.get(key), row.text(key)
    if not text:
        return None
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        problems.add(row.sheet, row.number, key, f"“{text}”无效，须为正整数")
        return None
    return int(text)


def day(row: Row, key: str, problems: Problems) -> date | None:
    """A date cell, or text such as 2026-11-02, 2026/11/2 or 2026年11月2日."""
    value = row.cells.get(key)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = row.text(key)
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    try:
        if match:
            return date(*(int(g) for g in match.groups()))
    except ValueError:
        pass
    problems.add(row.sheet, row.number, key, f"“{text}”不是有效日期，格式应为 YYYY-MM-DD")
    return None


def yes_no(row: Row, key: str, problems: Problems) -> bool | None:
    """是 / 否 (blank is 否)."""
    text = row.text(key)
    if text not in ("", YES, NO):
        problems.add(row.sheet, row.number, key, f"“{text}”无效，请填写“是”或“否”")
        return None
    return text == YES


def schema_message(error: ErrorDetails) -> str:
    """A pydantic error in the words of the form."""
    kind, ctx = error["type"], error.get("ctx") or {}
    messages = {
        "missing": "必填",
        "string_too_short": f"至少填写 {ctx.get('min_length')} 个字",
        "string_too_long": f"不能超过 {ctx.get('max_length')} 个字",
        "too_short": "至少填写一项",
        "greater_than_equal": f"不能小于 {ctx.get('ge')}",
        "less_than_equal": f"不能大于 {ctx.get('le')}",
        "int_parsing": "须为整数",
    }
    return messages.get(kind, str(error["msg"]).removeprefix("Value error, "))
