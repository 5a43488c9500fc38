"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters: registration authority (1), organisation type (1), administrative division
(6 digits), organisation code (9, GB 11714), check character (1). The check character is
31 minus the weighted sum modulo 31 over the first 17, in the code's own 31-character
alphabet (digits and capitals without I, O, Z, S, V).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authorities and the organisation types each may issue (GB 32100 table 1).
AUTHORITIES = {
    "1": "123459",  # 机构编制 (organs, institutions, central/other)
    "2": "19",  # 外交
    "3": "12345",  # 司法行政
    "4": "19",  # 文化
    "5": "1239",  # 民政
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "129",  # 工会
    "9": "123",  # 工商 (enterprises, individual businesses, cooperatives)
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}


def check_character(first17: str) -> str:
    """The 18th character for the given first 17."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, or None if it is."""
    if len(code) != 18:
        return f"应为 18 位，实际 {len(code)} 位"
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return f"含有不允许的字符 {''.join(bad)}（只允许数字和除 I、O、Z、S、V 外的大写字母）"
    authority, kind = code[0], code[1]
    if authority not in AUTHORITIES:
        return f"第 1 位登记管理部门代码 {authority} 不存在"
    if kind not in AUTHORITIES[authority]:
        return f"第 2 位机构类别代码 {kind} 与登记管理部门 {authority} 不匹配"
    if not code[2:8].isdigit():
        return "第 3–8 位行政区划码必须是数字"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验码错误：第 18 位应为 {expected}，实际为 {code[17]}"
    return None


def normalise(code: str) -> str:
    """Strip spaces and upper-case, as codes are often typed."""
    return code.strip().replace(" ", "").upper()
