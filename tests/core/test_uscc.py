"""Unified social credit code (统一社会信用代码, GB 32100-2015): structure and check character."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from govshare.core import uscc

VALID = "91350100M000100Y43"


@st.composite
def first17(draw: st.DrawFn) -> str:
    """Seventeen characters a registration authority could issue."""
    authority = draw(st.sampled_from(sorted(uscc.AUTHORITIES)))
    kind = draw(st.sampled_from(uscc.AUTHORITIES[authority]))
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    body = draw(st.text(alphabet=uscc.ALPHABET, min_size=9, max_size=9))
    return authority + kind + region + body


def valid_codes() -> st.SearchStrategy[str]:
    return first17().map(lambda f: f + uscc.check_character(f))


def test_published_example_is_valid() -> None:
    assert uscc.problem(VALID) is None


def test_typed_code_is_normalised_before_checking() -> None:
    assert uscc.normalise(" 91350100m000100y43 ") == VALID


@pytest.mark.parametrize("code", [VALID[:17], VALID + "0", ""])
def test_wrong_length_names_the_length(code: str) -> None:
    assert uscc.problem(code) == f"应为 18 位，实际 {len(code)} 位"


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_letter_outside_the_alphabet_is_named(letter: str) -> None:
    reason = uscc.problem(VALID[:10] + letter + VALID[11:])
    assert reason is not None
    assert f"不允许的字符 {letter}" in reason


def test_lower_case_letter_is_not_allowed() -> None:
    reason = uscc.problem(VALID.lower())
    assert reason is not None and "不允许的字符" in reason


def test_unknown_registration_authority_is_named() -> None:
    code = "B1" + VALID[2:]
    assert uscc.problem(code) == "第 1 位登记管理部门代码 B 不存在"


def test_type_the_authority_does_not_issue_is_named() -> None:
    code = "94" + VALID[2:]  # 工商 issues types 1, 2 and 3 only
    assert uscc.problem(code) == "第 2 位机构类别代码 4 与登记管理部门 9 不匹配"


def test_letter_in_the_region_code_is_refused() -> None:
    code = "9135A100M000100Y43"
    assert uscc.problem(code) == "第 3–8 位行政区划码必须是数字"


def test_wrong_check_character_names_the_expected_one() -> None:
    assert uscc.problem(VALID[:17] + "4") == "校验码错误：第 18 位应为 3，实际为 4"


@given(first17())
def test_any_well_formed_body_with_its_check_character_is_valid(body: str) -> None:
    assert uscc.problem(body + uscc.check_character(body)) is None


@given(valid_codes(), st.integers(min_value=0, max_value=17), st.sampled_from(uscc.ALPHABET))
def test_changing_any_single_character_is_detected(code: str, position: int, new: str) -> None:
    if code[position] == new:
        new = uscc.ALPHABET[(uscc.ALPHABET.index(new) + 1) % len(uscc.ALPHABET)]
    changed = code[:position] + new + code[position + 1 :]
    assert uscc.problem(changed) is not None


@given(valid_codes(), st.sampled_from(uscc.ALPHABET))
def test_any_other_check_character_is_refused(code: str, check: str) -> None:
    assume(check != code[17])
    expected = f"校验码错误：第 18 位应为 {code[17]}，实际为 {check}"
    assert uscc.problem(code[:17] + check) == expected
