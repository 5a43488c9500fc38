"""Comparison fixtures: the data resource center of the exchange tests, on both backends."""

from __future__ import annotations

from tests.exchange.conftest import center  # noqa: F401  (SQLite file or a PostgreSQL schema)
