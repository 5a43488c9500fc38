"""Sources whose database checks and formats the values itself (PostgreSQL, MariaDB/MySQL).

The source query is wrapped as `SELECT <exprs> FROM (<source query>) AS s WHERE <ok>`: every
value check runs in SQL, so the main stream carries only rows that will load and Python never
looks inside a row. The rows failing a check are read by a second query over the same
snapshot with `WHERE NOT <ok>`; each check is total (never NULL), so the two are exact
complements and no row is lost between them.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

from govshare.exchange.engine.base import Check, ColumnPlan, Source, Window, keyset
from govshare.exchange.engine.model import Column, RejectLog, SyncSpec, TypeMismatch

TYPE_NAMES = {
    "text": "文本",
    "integer": "整数",
    "bigint": "长整数",
    "numeric": "数值",
    "double": "浮点数",
    "date": "日期",
    "timestamp": "时间",
    "boolean": "布尔",
}


class SqlSource(Source):
    """The SQL-side half shared by the PostgreSQL and MySQL sources."""

    false = "FALSE"
    true = "TRUE"

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.plans: list[ColumnPlan] = []

    # --- dialect hooks -------------------------------------------------------------------

    @abc.abstractmethod
    def quote(self, name: str) -> str:
        """`name` quoted as an identifier."""

    @abc.abstractmethod
    def literal(self, text: str) -> str:
        """`text` as a string literal."""

    @abc.abstractmethod
    def raw_text(self, ref: str) -> str:
        """SQL giving a value as plain text, for rejection reports."""

    @abc.abstractmethod
    def plan(self, column: Column, kind: str) -> ColumnPlan | None:
        """How a source column of `kind` becomes `column`; None if it cannot."""

    @abc.abstractmethod
    def probe(self) -> list[tuple[str, str]]:
        """The (name, kind) of each column the source query returns."""

    @abc.abstractmethod
    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """Rows of `sql`, streamed."""

    # --- shared --------------------------------------------------------------------------

    @property
    def query(self) -> str:
        if self.spec.source_query is not None:
            return self.spec.source_query.strip().rstrip(";")
        table = ".".join(self.quote(p) for p in self.spec.source_table.split("."))
        return f"SELECT {', '.join(self.quote(n) for n in self.spec.names)} FROM {table}"

    @property
    def from_clause(self) -> str:
        return f"FROM ({self.query}) AS s"

    def is_null(self, ref: str) -> str:
        """SQL true exactly when the value is NULL."""
        return f"{ref} IS NULL"

    def ref(self, name: str) -> str:
        return f"s.{self.quote(name)}"

    def make_plans(self) -> None:
        """Matches the source query's columns to the spec and plans each conversion."""
        probed = self.probe()
        names = [name for name, _ in probed]
        if names != list(self.spec.names):
            raise TypeMismatch(
                "源查询返回的字段与同步字段不一致："
                f"应为 {', '.join(self.spec.names)}，实际为 {', '.join(names)}"
            )
        self.plans = []
        for column, (_, kind) in zip(self.spec.columns, probed, strict=True):
            plan = self.plan(column, kind)
            if plan is None:
                raise TypeMismatch(
                    f"字段 {column.name} 的源类型（{kind}）无法同步为{TYPE_NAMES[column.type]}类型"
                )
            self.plans.append(plan)

    def checks(self, indexes: tuple[int, ...] | None = None) -> list[tuple[int, Check, str]]:
        """(column index, check, total SQL condition) for the given columns (default all)."""
        keys = set(self.spec.key_indexes)
        found: list[tuple[int, Check, str]] = []
        for i in indexes if indexes is not None else range(len(self.spec.columns)):
            ref = self.ref(self.spec.names[i])
            null = self.is_null(ref)
            if i in keys:
                found.append((i, Check("", "主键为空"), f"(NOT ({null}))"))
            # Total checks: a NULL value passes, a check evaluating to NULL fails.
            found.extend(
                (i, check, f"({null} OR COALESCE({check.sql.format(ref=ref)}, {self.false}))")
                for check in self.plans[i].checks
            )
        return found

    def condition(self, checks: list[tuple[int, Check, str]], window: Window | None) -> str:
        parts = [sql for _, _, sql in checks] or [self.true]
        if window is not None:
            keys = [self.ref(k) for k in self.spec.key]
            change = self.ref(self.spec.change_column or "")
            parts.append(keyset(change, keys, window, lambda text, _: self.literal(text)))
        return " AND ".join(parts)

    def exprs(self, indexes: tuple[int, ...] | None = None) -> list[str]:
        chosen = indexes if indexes is not None else range(len(self.spec.columns))
        return [self.plans[i].expr(self.ref(self.spec.names[i])) for i in chosen]

    def order(self, window: Window | None) -> str:
        if window is None:
            return ""
        refs = [self.ref(self.spec.change_column or ""), *(self.ref(k) for k in self.spec.key)]
        return " ORDER BY " + ", ".join(refs)

    def main_select(self, window: Window | None, *, ordered: bool = True) -> str:
        """The SELECT of the rows that pass every check, in target form."""
        where = self.condition(self.checks(), window)
        order = self.order(window) if ordered else ""
        return f"SELECT {', '.join(self.exprs())} {self.from_clause} WHERE {where}{order}"

    def key_select(self) -> str:
        """The SELECT of the key fields of every row whose key columns pass their checks."""
        indexes = self.spec.key_indexes
        where = self.condition(self.checks(indexes), None)
        return f"SELECT {', '.join(self.exprs(indexes))} {self.from_clause} WHERE {where}"

    def rejects(self, window: Window | None) -> int:
        checks = self.checks()
        if not checks:
            return 0
        raws = [self.raw_text(self.ref(n)) for n in self.spec.names]
        flags = [f"({sql})" for _, _, sql in checks]
        ok = " AND ".join(sql for _, _, sql in checks)
        where = f"NOT ({ok})"
        if window is not None:
            where += " AND " + self.condition([], window)
        sql = f"SELECT {', '.join(raws + flags)} {self.from_clause} WHERE {where}"
        count = 0
        width = len(raws)
        for row in self.stream(sql):
            values = [self.text_of(v) for v in row[:width]]
            self.reject_row(values, self.reasons(checks, values, [bool(f) for f in row[width:]]))
            count += 1
        return count

    @staticmethod
    def reasons(
        checks: list[tuple[int, Check, str]], values: list[str | None], passed: list[bool]
    ) -> str:
        """The reasons of the failed checks, in words, each once."""
        reasons: list[str] = []
        for (index, check, _), ok in zip(checks, passed, strict=True):
            reason = check.reason.format(value=values[index])
            if not ok and reason not in reasons:
                reasons.append(reason)
        return "；".join(reasons)

    @staticmethod
    def text_of(value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8", "replace")
        return str(value)
