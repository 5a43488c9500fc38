"""Data item names that mean the same thing (同义信息项), for duplicate detection (CAT-7)
and search (CAT-11).

Departments name one fact many ways — 公民身份号码, 身份证号, 身份证号码 — so names are
compared after normalisation and through synonym groups. The groups are the common
government data elements; a city extends them by editing this list.
"""

from __future__ import annotations

import functools
import re
import unicodedata

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("公民身份号码", "身份证号", "身份证号码", "居民身份证号码", "身份证件号码", "证件号码"),
    ("统一社会信用代码", "企业信用代码", "社会信用代码", "信用代码", "统一代码"),
    ("姓名", "人员姓名", "公民姓名", "居民姓名"),
    ("性别", "性别代码"),
    ("出生日期", "出生年月日", "生日"),
    ("民族", "民族代码"),
    ("联系电话", "手机号码", "手机号", "联系方式", "移动电话"),
    ("户籍地址", "户籍所在地", "户口所在地", "户籍地"),
    ("住址", "居住地址", "现住址", "家庭住址"),
    ("企业名称", "单位名称", "机构名称", "市场主体名称"),
    ("法定代表人", "法人代表", "法定代表人姓名"),
    ("注册资本", "注册资金"),
    ("成立日期", "设立日期", "注册日期"),
    ("经营范围", "业务范围"),
    ("登记机关", "发证机关", "颁发机关"),
    ("不动产单元号", "不动产单元代码"),
    ("车牌号码", "号牌号码", "车牌号"),
    ("驾驶证号", "驾驶证号码"),
    ("社会保障号码", "社保卡号", "社会保障卡号"),
    ("婚姻状况", "婚姻状态"),
    ("死亡日期", "死亡时间"),
    ("行政区划代码", "区划代码", "行政区划"),
)

_PUNCT = re.compile(r"[\s\-_·•()（）\[\]【】/\\,，.。:：;；\"'“”‘’]+")


def normalize(name: str) -> str:
    """A data item name reduced for comparison: width, case, spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", name).lower()
    return _PUNCT.sub("", folded)


@functools.cache
def _group_of() -> dict[str, int]:
    return {normalize(name): i for i, group in enumerate(SYNONYM_GROUPS) for name in group}


def equivalents(name: str) -> frozenset[str]:
    """Normalised names meaning the same as `name`, itself included."""
    key = normalize(name)
    index = _group_of().get(key)
    if index is None:
        return frozenset({key})
    return frozenset(normalize(n) for n in SYNONYM_GROUPS[index])


def canonical(name: str) -> str:
    """One representative per synonym group (the group's first name), normalised."""
    key = normalize(name)
    index = _group_of().get(key)
    return key if index is None else normalize(SYNONYM_GROUPS[index][0])


def expand_term(term: str) -> tuple[str, ...]:
    """Search expansion: the term, plus every synonym of a group whose names contain it
    (so 公民身份 also finds 身份证号). The term comes first."""
    key = normalize(term)
    if len(key) < 2:
        return (term,)
    found: list[str] = [term]
    for group in SYNONYM_GROUPS:
        if any(key in normalize(name) for name in group):
            found.extend(n for n in group if n not in found)
    return tuple(found)
