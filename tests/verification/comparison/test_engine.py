"""The comparison engine on real SQLite and PostgreSQL centers: planted differences are found
exactly, normalised values agree, duplicates and blank keys are reported, results stream."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from govshare.exchange.center import Center
from govshare.verification.comparison import (
    ComparisonError,
    ComparisonSpec,
    Difference,
    DifferenceKind,
    ItemDifference,
    Pair,
    compare,
    run_comparison,
)
from tests.verification.comparison.builders import center_table, spec

LEFT = {"gmsfhm": "text", "xm": "text", "csrq": "date", "dz": "text"}
RIGHT = {"sfzh": "text", "xingming": "text", "chusheng": "text", "zhuzhi": "text"}
NAME = Pair("姓名", "xm", "xingming", ("trim",))
BIRTH = Pair("出生日期", "csrq", "chusheng", ("halfwidth", "trim", "date"))
ADDRESS = Pair("住址", "dz", "zhuzhi", ("halfwidth", "trim", "empty_as_null"))


def planted(center: Center) -> None:
    center_table(
        center,
        "gaj_rk",
        LEFT,
        [
            ("110101199001010011", "张三", date(1990, 1, 1), "信州区一号"),
            ("11010119900101002X", "李四", date(2026, 9, 28), "信州区二号"),  # 'x' on the right
            ("110101199001010033", "王五", date(1985, 5, 6), "信州区三号"),  # name differs
            ("110101199001010044", "赵六", date(1970, 12, 1), "信州区四号"),  # both differ
            ("110101199001010055", "钱七", date(2000, 2, 3), None),  # '' on the right
            ("110101199001010066", "孙八", date(1999, 9, 9), "A栋"),  # only left
        ],
    )
    center_table(
        center,
        "mzj_rk",
        RIGHT,
        [
            ("１１０１０１１９９００１０１００１１", " 张三 ", "1990/1/1", "信州区一号"),
            (" 11010119900101002x", "李四", "2026年9月28日", "信州区二号　"),
            ("110101199001010033", "王武", "1985-05-06", "信州区三号"),
            ("110101199001010044", "赵六", "1970-12-02", "信州区四号十室"),
            ("110101199001010055", "钱七", "20000203", ""),
            ("110101199001010077", "周九", "1988-08-08", "B栋"),  # only right
        ],
    )


KEY = Pair("公民身份号码", "gmsfhm", "sfzh", ("halfwidth", "case"))


def test_planted_differences_are_found_exactly(center: Center) -> None:
    planted(center)
    run = compare(center, spec(NAME, BIRTH, ADDRESS, key=KEY))
    found = list(run)
    assert found == [
        Difference(
            DifferenceKind.DIFFERS,
            ("110101199001010033",),
            (ItemDifference("姓名", "王五", "王武"),),
            1,
            1,
        ),
        Difference(
            DifferenceKind.DIFFERS,
            ("110101199001010044",),
            (
                ItemDifference("出生日期", "1970-12-01", "1970-12-02"),
                ItemDifference("住址", "信州区四号", "信州区四号十室"),
            ),
            1,
            1,
        ),
        Difference(
            DifferenceKind.ONLY_LEFT,
            ("110101199001010066",),
            (
                ItemDifference("姓名", "孙八", None),
                ItemDifference("出生日期", "1999-09-09", None),
                ItemDifference("住址", "A栋", None),
            ),
            left_rows=1,
        ),
        Difference(
            DifferenceKind.ONLY_RIGHT,
            ("110101199001010077",),
            (
                ItemDifference("姓名", None, "周九"),
                ItemDifference("出生日期", None, "1988-08-08"),
                ItemDifference("住址", None, "B栋"),
            ),
            right_rows=1,
        ),
    ]
    counts = run.counts
    assert (counts.left_rows, counts.right_rows) == (6, 6)
    assert (counts.matched, counts.equal, counts.differing) == (5, 3, 2)
    assert (counts.only_left, counts.only_right) == (1, 1)
    assert counts.differing_by_item == {"姓名": 1, "出生日期": 1, "住址": 1}
    assert counts.duplicate_keys_left == counts.duplicate_keys_right == 0


def test_without_normalisation_the_same_rows_differ(center: Center) -> None:
    planted(center)
    exact = (Pair("姓名", "xm", "xingming"), Pair("出生日期", "csrq", "chusheng"))
    counts = run_comparison(center, spec(*exact, key=KEY))
    assert counts.matched == 5
    assert counts.differing_by_item == {"姓名": 2, "出生日期": 4}  # only 1985-05-06 agrees


def test_key_is_trimmed_even_without_steps(center: Center) -> None:
    planted(center)
    counts = run_comparison(center, spec(NAME))
    # ' 11010119900101002x' still differs by case, the full-width key by its digits
    assert (counts.matched, counts.only_left, counts.only_right) == (3, 3, 3)


def test_duplicate_keys_are_reported_and_not_compared(center: Center) -> None:
    center_table(
        center,
        "gaj_rk",
        {"gmsfhm": "text", "xm": "text"},
        [("1", "甲"), (" 1", "甲"), ("2", "乙"), ("3", "丙"), ("4", "丁")],
    )
    center_table(
        center,
        "mzj_rk",
        {"sfzh": "text", "xingming": "text"},
        [("1", "甲"), ("2", "乙"), ("2 ", "乙"), ("2", "乙"), ("3", "丙"), ("4", "戊")],
    )
    run = compare(center, spec(NAME))
    found = list(run)
    assert found == [
        Difference(DifferenceKind.DUPLICATE, ("1",), left_rows=2, right_rows=1),
        Difference(DifferenceKind.DUPLICATE, ("2",), left_rows=1, right_rows=3),
        Difference(DifferenceKind.DIFFERS, ("4",), (ItemDifference("姓名", "丁", "戊"),), 1, 1),
    ]
    counts = run.counts
    assert (counts.duplicate_keys_left, counts.duplicate_rows_left) == (1, 2)
    assert (counts.duplicate_keys_right, counts.duplicate_rows_right) == (1, 3)
    assert (counts.matched, counts.equal, counts.differing) == (2, 1, 1)
    assert counts.only_left == counts.only_right == 0


def test_null_equals_null_and_empty_differs_unless_asked(center: Center) -> None:
    center_table(
        center,
        "gaj_rk",
        {"gmsfhm": "text", "dz": "text"},
        [("1", None), ("2", ""), ("3", None), ("4", " "), (None, "x"), ("", "y")],
    )
    center_table(
        center,
        "mzj_rk",
        {"sfzh": "text", "zhuzhi": "text"},
        [("1", None), ("2", None), ("3", ""), ("4", None), ("  ", "z")],
    )
    plain = run_comparison(center, spec(Pair("住址", "dz", "zhuzhi")))
    assert (plain.matched, plain.equal, plain.differing_by_item["住址"]) == (4, 1, 3)
    trimmed = run_comparison(center, spec(Pair("住址", "dz", "zhuzhi", ("trim",))))
    assert trimmed.differing_by_item["住址"] == 3  # ' ' trims to '', still not NULL
    lenient = run_comparison(center, spec(ADDRESS))
    assert (lenient.equal, lenient.differing) == (4, 0)
    assert (lenient.left_blank_keys, lenient.right_blank_keys) == (2, 1)
    assert (lenient.only_left, lenient.only_right) == (0, 0)


def test_numbers_and_times_compare_as_text_forms(center: Center) -> None:
    center_table(
        center,
        "gaj_rk",
        {"gmsfhm": "bigint", "nl": "integer", "je": "numeric", "sj": "timestamp", "hz": "boolean"},
        [
            (1, 5, Decimal("10.50"), datetime(2026, 9, 28, 8, 0), True),
            (2, 6, Decimal("3"), datetime(2026, 9, 28, 8, 0), False),
        ],
    )
    center_table(
        center,
        "mzj_rk",
        {"sfzh": "text", "nianling": "numeric", "jine": "double", "rq": "date", "huzhu": "boolean"},
        [
            ("1", Decimal("5.00"), 10.5, date(2026, 9, 28), True),
            ("2", Decimal("6.1"), 3.0, date(2026, 9, 29), True),
        ],
    )
    found = list(
        compare(
            center,
            ComparisonSpec(
                "gaj_rk",
                "mzj_rk",
                (Pair("编号", "gmsfhm", "sfzh"),),
                (
                    Pair("年龄", "nl", "nianling"),
                    Pair("金额", "je", "jine"),
                    Pair("日期", "sj", "rq", ("date",)),
                    Pair("户主", "hz", "huzhu"),
                ),
            ),
        )
    )
    assert found == [
        Difference(
            DifferenceKind.DIFFERS,
            ("2",),
            (
                ItemDifference("年龄", "6", "6.1"),
                ItemDifference("日期", "2026-09-28 08:00:00", "2026-09-29"),
                ItemDifference("户主", "false", "true"),
            ),
            1,
            1,
        )
    ]


def test_a_key_of_two_columns(center: Center) -> None:
    center_table(
        center,
        "gaj_rk",
        {"qh": "text", "bh": "integer", "xm": "text"},
        [("3611", 1, "甲"), ("3611", 2, "乙")],
    )
    center_table(
        center,
        "mzj_rk",
        {"quhua": "text", "bianhao": "text", "xingming": "text"},
        [("3611 ", "1", "甲"), ("3612", "2", "乙")],
    )
    comparison = ComparisonSpec(
        "gaj_rk",
        "mzj_rk",
        (Pair("区划", "qh", "quhua"), Pair("编号", "bh", "bianhao")),
        (NAME,),
    )
    found = list(compare(center, comparison))
    assert [(d.kind, d.key) for d in found] == [
        (DifferenceKind.ONLY_LEFT, ("3611", "2")),
        (DifferenceKind.ONLY_RIGHT, ("3612", "2")),
    ]


def test_results_stream_in_key_order_with_counts_that_add_up(center: Center) -> None:
    size = 4000
    center_table(
        center,
        "gaj_rk",
        {"gmsfhm": "text", "xm": "text"},
        ((f"{n:06d}", f"人{n}") for n in range(size) if n % 97 != 1),
    )
    center_table(
        center,
        "mzj_rk",
        {"sfzh": "text", "xingming": "text"},
        (
            (f"{n:06d}", f"人{n}" + ("改" if n % 13 == 0 else ""))
            for n in range(size)
            if n % 89 != 2
        ),
    )
    run = compare(center, spec(NAME))
    stream = iter(run)
    first = next(stream)
    with pytest.raises(RuntimeError):
        run.counts  # noqa: B018  (not known while the stream is still running)
    keys = [first.key[0]] + [d.key[0] for d in stream]
    assert keys == sorted(keys)
    only_left = {n for n in range(size) if n % 89 == 2 and n % 97 != 1}
    only_right = {n for n in range(size) if n % 97 == 1 and n % 89 != 2}
    differing = {n for n in range(size) if n % 13 == 0} - only_left - only_right
    differing -= {n for n in range(size) if n % 97 == 1 or n % 89 == 2}
    assert keys == [f"{n:06d}" for n in sorted(only_left | only_right | differing)]
    counts = run.counts
    assert (counts.only_left, counts.only_right, counts.differing) == (
        len(only_left),
        len(only_right),
        len(differing),
    )
    both = size - len({n for n in range(size) if n % 97 == 1 or n % 89 == 2})
    assert counts.matched == both
    assert counts.equal == both - len(differing)


@pytest.mark.parametrize(
    ("comparison", "message", "field"),
    [
        (spec(), "比对没有比对项", "items"),
        (ComparisonSpec("gaj_rk", "mzj_rk", (), (NAME,)), "比对没有主键映射", "keys"),
        (spec(NAME, left="gaj_none"), "左表 gaj_none 不存在于数据资源中心", "left_table"),
        (
            spec(Pair("出生日期", "csrq", "birth_dt")),
            "比对项「出生日期」：右表没有列 birth_dt",
            "items[0].right",
        ),
        (
            spec(NAME, key=Pair("公民身份号码", "sfz", "sfzh")),
            "主键「公民身份号码」：左表没有列 sfz",
            "keys[0].left",
        ),
        (spec(NAME, NAME), "比对项「姓名」重复", "items[1].name"),
        (
            spec(Pair("年龄", "nl", "xingming", ("date",))),
            "比对项「年龄」：左表列 nl 是数值类型，不能按「日期格式统一」规范化",
            "items[0].normalise",
        ),
        (
            spec(Pair("出生日期", "csrq", "dj", ())),
            "比对项「出生日期」：左表列 csrq（日期）与右表列 dj（日期时间）类型不同，"
            "请选择「日期格式统一」规范化",
            "items[0].normalise",
        ),
        (
            spec(Pair("年龄", "nl", "dj")),
            "比对项「年龄」：左表列 nl（数值）与右表列 dj（日期时间）类型不同，无法比对",
            "items[0]",
        ),
        (
            spec(Pair("姓名", "xm", "xingming", ("upper",))),
            "比对项「姓名」：未知的规范化方式 upper",
            "items[0].normalise",
        ),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(
    center: Center, comparison: ComparisonSpec, message: str, field: str
) -> None:
    center_table(
        center, "gaj_rk", {"gmsfhm": "text", "xm": "text", "csrq": "date", "nl": "integer"}, []
    )
    center_table(center, "mzj_rk", {"sfzh": "text", "xingming": "text", "dj": "timestamp"}, [])
    with pytest.raises(ComparisonError) as refused:
        compare(center, comparison)
    assert (str(refused.value), refused.value.field) == (message, field)
