"""The data resource center (数据资源中心, EXC-7): the platform's own database of base and
theme data, where table resources are synchronised to and every delivery reads from.

It is a database apart from the platform's: a SQLite file in the data directory for one
machine, or a PostgreSQL database (its tables in the `center` schema) for a city. Each bound
resource has one table there, named by its binding, with the source's key as primary key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from govshare.catalog.models import DataType
from govshare.core.db import make_engine

# Portable column types the sync engine and the center share (a binding's columns name them).
PORTABLE_TYPES: dict[str, type[sa.types.TypeEngine[Any]] | sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "numeric": sa.Numeric(),
    "double": sa.Float(precision=53),
    "date": sa.Date(),
    "timestamp": sa.DateTime(),
    "boolean": sa.Boolean(),
}

# The catalog's data item types (national catalog guide) as portable types.
FROM_DATA_TYPE: dict[DataType, str] = {
    DataType.CHAR: "text",
    DataType.MEMO: "text",
    DataType.GENERAL: "text",
    DataType.NUMERIC: "numeric",
    DataType.CURRENCY: "numeric",
    DataType.DATE: "date",
    DataType.DATETIME: "timestamp",
    DataType.LOGICAL: "boolean",
    DataType.DOUBLE: "double",
    DataType.FLOAT: "double",
    DataType.INTEGER: "bigint",
}


@dataclass(frozen=True)
class Center:
    """The center's database and the schema its tables live in (None off PostgreSQL)."""

    engine: Engine
    schema: str | None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def table(
        self, name: str, columns: Iterable[Mapping[str, Any]], key: Iterable[str]
    ) -> sa.Table:
        return table(name, columns, key, schema=self.schema)


def open_center(url: str, configured_schema: str) -> Center:
    engine = make_engine(url)
    schema = configured_schema if engine.dialect.name == "postgresql" else None
    return Center(engine, schema)


def table(
    name: str, columns: Iterable[Mapping[str, Any]], key: Iterable[str], *, schema: str | None
) -> sa.Table:
    """A Core table for a center table, from a binding's [{column, type}] and key columns."""
    keys = set(key)
    return sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(c["column"], PORTABLE_TYPES[c["type"]], primary_key=c["column"] in keys)
            for c in columns
        ),
        schema=schema,
    )
