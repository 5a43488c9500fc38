"""Normalisation: the SQL of each database gives what the Python reference gives, for every
step alone and for every step together."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from govshare.exchange.center import Center
from govshare.verification.comparison.normalise import (
    Normaliser,
    normalise_expression,
    normalise_text,
    register_sqlite_functions,
)
from tests.verification.comparison.builders import center_table

SAMPLES = [
    None,
    "",
    " ",
    "　张三　",
    "\t李四\n",
    "\u00a0x\u00a0",
    "１１０１０１１９９００１０１００２ｘ",
    "ＡｂＣ－１２３",
    "abcXYZé",
    "2026年9月28日",
    "2026-09-28",
    "2026/9/8",
    "2026.12.1",
    "２０２６年９月２８日",
    "20260928",
    "2026-09-28 08:00:00",
    "2026-09-28T08:00",
    "2026-9-28日x",
    "2026年09月28",
    "202609281",
    "26-9-28",
    "20260928\n",
    "2026-09-28\n",
]
CHOICES = [(step,) for step in Normaliser] + [tuple(Normaliser)]


def test_steps_run_in_their_order_whatever_order_is_given() -> None:
    assert normalise_text(" ２０２６年９月２８日　", ["date", "trim", "halfwidth"]) == "2026-09-28"
    assert normalise_text("  ", ["empty_as_null", "trim"]) is None
    assert normalise_text("2026年9月28日", ["date"]) == "2026-09-28"
    assert normalise_text("11010119900101002x", ["case"]) == "11010119900101002X"


@pytest.mark.parametrize("chosen", CHOICES, ids=lambda c: "+".join(c))
def test_sql_agrees_with_the_reference(center: Center, chosen: tuple[Normaliser, ...]) -> None:
    table = center_table(center, "samples", {"n": "integer", "t": "text"}, enumerate(SAMPLES))
    expression = normalise_expression(center.dialect, table.c.t, chosen)
    with center.engine.connect() as conn:
        if center.dialect == "sqlite":
            register_sqlite_functions(conn.connection.driver_connection)
        got = dict(conn.execute(sa.select(table.c.n, expression)).all())
    expected = {n: normalise_text(t, chosen) for n, t in enumerate(SAMPLES)}
    assert got == expected
