"""The join on raw keys (PostgreSQL, a unique NOT NULL text key on each side) against the one
grouping it stands in for: the same differences in the same order, the same counts, also when
normalisation changes some keys (grouped apart and merged) or many (the grouping alone)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from govshare.exchange.center import Center
from govshare.verification.comparison import (
    ComparisonSpec,
    Difference,
    DifferenceKind,
    Pair,
    Path,
    compare,
    engine,
)
from tests.verification.comparison.builders import center_table, spec

LEFT = {"gmsfhm": "text", "xm": "text", "csrq": "date", "je": "numeric"}
RIGHT = {"sfzh": "text", "xingming": "text", "chusheng": "date", "jine": "numeric"}
ITEMS = (
    Pair("姓名", "xm", "xingming", ("halfwidth", "trim")),
    Pair("出生日期", "csrq", "chusheng"),
    Pair("金额", "je", "jine"),
)
KEY = Pair("公民身份号码", "gmsfhm", "sfzh", ("halfwidth", "case"))
BORN = date(1990, 1, 1)


def person(n: int, *, changed: bool = False) -> tuple[str, str, date, Decimal]:
    name = f"人{n}" + ("改" if changed and n % 3 == 0 else "")
    born = BORN + timedelta(days=n + (1 if changed and n % 3 == 1 else 0))
    amount = Decimal(n) / 4 + (Decimal(1) if changed and n % 3 == 2 else 0)
    return (f"3611{n:06d}", name, born, amount)


def populate(center: Center, *, left_dirty: list[tuple], right_dirty: list[tuple]) -> None:
    """Clean keys with planted differences, plus the given rows (whose keys may change when
    normalised) on each side; primary keys on the raw ID numbers."""
    size = 3000
    left = [person(n) for n in range(size) if n % 53 != 7]
    right = [person(n, changed=n % 17 == 0) for n in range(size) if n % 61 != 9]
    center_table(center, "gaj_rk", LEFT, left + left_dirty, primary_key="gmsfhm")
    center_table(center, "mzj_rk", RIGHT, right + right_dirty, primary_key="sfzh")


def both_ways(center: Center, comparison: ComparisonSpec) -> tuple[list[Difference], Path | None]:
    """The differences of the default run, checked equal (and equally counted) to the
    grouping's; and the path the default run took."""
    grouped = compare(center, comparison, raw_key_join=False)
    expected = list(grouped)
    run = compare(center, comparison)
    found = list(run)
    assert found == expected
    assert run.counts == grouped.counts
    assert grouped.path is Path.GROUP
    return found, run.path


def postgres_or_group(center: Center, path: Path) -> Path:
    return path if center.dialect == "postgresql" else Path.GROUP


def test_clean_keys_join_with_the_grouping_results(center: Center) -> None:
    populate(center, left_dirty=[], right_dirty=[])
    found, path = both_ways(center, spec(*ITEMS, key=KEY))
    assert path is postgres_or_group(center, Path.JOIN)
    kinds = {kind: sum(d.kind is kind for d in found) for kind in DifferenceKind}
    only_left = [n for n in range(3000) if n % 61 == 9 and n % 53 != 7]
    assert kinds[DifferenceKind.ONLY_LEFT] == len(only_left)
    assert kinds[DifferenceKind.DIFFERS] > 100
    keys = [d.key for d in found]
    assert keys == sorted(keys)


def test_keys_normalisation_changes_are_grouped_and_merged_in_key_order(center: Center) -> None:
    _, name, born, amount = person(5)
    populate(
        center,
        left_dirty=[
            (" 3611000005", name, born, amount),  # a duplicate of 3611000005 once trimmed
            ("36110000x9", "小写", born, amount),  # matches the right's 36110000X9
            ("", "空号", born, amount),  # blank
            ("３６１１９９９９９９", "全角", born, amount),  # only left, as 3611999999
        ],
        right_dirty=[("36110000X9", "小写 ", born, amount), ("  ", "空白", born, amount)],
    )
    found, path = both_ways(center, spec(*ITEMS, key=KEY))
    assert path is postgres_or_group(center, Path.JOIN_AND_GROUP)
    by_key = {d.key: d for d in found}
    assert by_key[("3611000005",)].kind is DifferenceKind.DUPLICATE
    assert by_key[("3611999999",)].kind is DifferenceKind.ONLY_LEFT
    assert ("36110000X9",) not in by_key  # equal after normalisation
    keys = [d.key for d in found]
    assert keys == sorted(keys)
    run = compare(center, spec(*ITEMS, key=KEY))
    list(run)
    assert (run.counts.left_blank_keys, run.counts.right_blank_keys) == (1, 1)


def test_many_changed_keys_leave_the_join_for_the_grouping(
    center: Center, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "DIRTY_LIMIT", 2)
    _, name, born, amount = person(1)
    dirty = [(f"36110000{n:02d} ", name, born, amount) for n in range(10, 15)]
    populate(center, left_dirty=dirty, right_dirty=[])
    found, path = both_ways(center, spec(*ITEMS, key=KEY))
    assert path is Path.GROUP
    assert sum(d.kind is DifferenceKind.DUPLICATE for d in found) == 5


def test_a_key_without_a_unique_constraint_is_grouped(center: Center) -> None:
    center_table(center, "gaj_rk", LEFT, [person(1), person(2)])
    center_table(center, "mzj_rk", RIGHT, [person(1, changed=True)], primary_key="sfzh")
    found, path = both_ways(center, spec(*ITEMS, key=KEY))
    assert path is Path.GROUP
    assert [d.kind for d in found] == [DifferenceKind.DIFFERS, DifferenceKind.ONLY_LEFT]
