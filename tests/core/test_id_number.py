"""GB 11643 citizen identity numbers: the check character and the refusals, each named."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from govshare.core import id_number


def test_known_numbers_and_their_check_characters() -> None:
    # The standard's worked example and one ending in X.
    assert id_number.problem("11010519491231002X") is None
    assert id_number.problem("440524188001010014") is not None  # born before 1900
    assert id_number.check_character("11010519491231002") == "X"


def test_each_refusal_names_what_is_wrong() -> None:
    assert "18 位" in id_number.problem("1101051949123100")  # type: ignore[operator]
    assert "前 17 位" in id_number.problem("11010519491231A02X")  # type: ignore[operator]
    assert "出生日期" in id_number.problem("110105194913310021")  # type: ignore[operator]
    assert "校验码" in id_number.problem("110105194912310021")  # type: ignore[operator]
    born_later = id_number.problem("110105203012310021", today=date(2026, 12, 15))
    assert born_later is not None and "出生日期" in born_later
    assert id_number.normalise(" 11010519491231002x ") == "11010519491231002X"


@given(st.dates(date(1900, 1, 1), date(2026, 1, 1)), st.integers(0, 999), st.integers(0, 9))
def test_a_number_with_its_own_check_character_is_valid_and_any_other_is_not(
    born: date, sequence: int, other: int
) -> None:
    first17 = f"360102{born:%Y%m%d}{sequence:03d}"
    right = id_number.check_character(first17)
    assert id_number.problem(first17 + right) is None
    wrong = str(other)
    if wrong != right:
        assert id_number.problem(first17 + wrong) is not None
