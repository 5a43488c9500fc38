"""Citizen identity numbers (公民身份号码), GB 11643-1999.

18 characters: the address code (6 digits, the administrative division), the date of birth
(8 digits, YYYYMMDD), a sequence code (3 digits) and a check character: the weighted sum of
the first 17 digits (weights 2^(17-i) mod 11) taken mod 11 maps onto 1 0 X 9 8 7 6 5 4 3 2.
"""

from __future__ import annotations

from datetime import date

WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
CHECKS = "10X98765432"


def check_character(first17: str) -> str:
    """The 18th character for the given first 17 digits."""
    return CHECKS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalise(number: str) -> str:
    """Strip spaces and upper-case the check character, as numbers are often typed."""
    return number.strip().replace(" ", "").upper()


def problem(number: str, *, today: date | None = None) -> str | None:
    """Why `number` is not a valid citizen identity number, or None if it is."""
    if len(number) != 18:
        return f"应为 18 位，实际 {len(number)} 位"
    if not number[:17].isascii() or not number[:17].isdigit():
        return "前 17 位必须是数字"
    if number[17] not in "0123456789X":
        return "第 18 位校验码只能是数字或 X"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"第 7–14 位出生日期 {number[6:14]} 不是有效日期"
    if born.year < 1900 or (today is not None and born > today):
        return f"第 7–14 位出生日期 {number[6:14]} 不在合理范围内"
    expected = check_character(number[:17])
    if number[17] != expected:
        return f"校验码错误：第 18 位应为 {expected}，实际为 {number[17]}"
    return None
