"""The one rule for the name of a file someone uploads (attachments, file resources).

A name is shown to other departments, in lists, audit entries and download headers. Control
characters break those lines, and direction controls make a name read differently from what it
is: "报告\u202egpj.exe" shows as "报告exe.jpg". Both are refused, not silently removed, so the
uploader sees what was wrong with the name.
"""

from __future__ import annotations

import re

from govshare.core.errors import Invalid

# Embedding, override and isolate controls, the marks, and the Arabic letter mark.
DIRECTION_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)
PATH_SEPARATORS = re.compile(r"[/\\]")


def check_filename(filename: str | None, *, field: str, max_length: int = 255) -> str:
    """The file's own name (a browser may send a path: its last part), or Invalid naming
    `field` when it is empty, "." or "..", too long, or holds control or direction characters."""
    name = PATH_SEPARATORS.split(filename or "")[-1].strip()
    if not name:
        raise Invalid("请选择要上传的文件（文件名为空）", field=field)
    if name in (".", ".."):
        raise Invalid(f"文件名“{name}”无效", field=field)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise Invalid("文件名不能包含控制字符", field=field)
    if any(c in DIRECTION_CONTROLS for c in name):
        raise Invalid(
            "文件名不能包含从右到左等文字方向控制字符（它们会让文件名显示得与实际不同）",
            field=field,
        )
    if len(name) > max_length:
        raise Invalid(f"文件名不能超过 {max_length} 个字符（现为 {len(name)} 个）", field=field)
    return name
