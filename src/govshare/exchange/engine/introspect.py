"""Reading a source table's or view's columns as portable types, so the platform can offer
them in a catalog entry and build a SyncSpec from what the provider really has."""

from __future__ import annotations

from govshare.exchange.engine import connect
from govshare.exchange.engine.model import Column, SourceFailed, split_table
from govshare.exchange.engine.postgres import KINDS as PG_KINDS
from govshare.exchange.engine.postgres import quote as pg_quote
from govshare.exchange.engine.sqlite import quote as sqlite_quote

_PG_PORTABLE = {
    "int2": "integer",
    "int4": "integer",
    "int8": "bigint",
    "numeric": "numeric",
    "float": "double",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "bool": "boolean",
}
_MYSQL_PORTABLE = {
    "tinyint": "integer",
    "smallint": "integer",
    "mediumint": "integer",
    "int": "integer",
    "integer": "integer",
    "year": "integer",
    "bigint": "bigint",
    "decimal": "numeric",
    "numeric": "numeric",
    "float": "double",
    "double": "double",
    "real": "double",
    "date": "date",
    "datetime": "timestamp",
    "timestamp": "timestamp",
}


def _missing(table: str) -> SourceFailed:
    return SourceFailed(f"表或视图不存在：{table}")


def _postgres(dsn: connect.Dsn, table: str) -> list[Column]:
    schema, name = split_table(table, what="table")
    qualified = f"{pg_quote(schema)}.{pg_quote(name)}" if schema else pg_quote(name)
    conn = connect.pg(dsn)
    try:
        with connect.translating("source", dsn):
            rows = conn.execute(
                "SELECT a.attname, CASE WHEN t.typtype = 'd' THEN t.typbasetype "
                "ELSE a.atttypid END::int FROM pg_attribute a JOIN pg_type t "
                "ON t.oid = a.atttypid WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                (qualified,),
            ).fetchall()
    finally:
        conn.close()
    return [Column(n, _PG_PORTABLE.get(PG_KINDS.get(oid, "text"), "text")) for n, oid in rows]


def _mysql_type(data_type: str, column_type: str) -> str:
    unsigned = "unsigned" in column_type
    if column_type.startswith("tinyint(1)"):
        return "boolean"  # MySQL's BOOLEAN, the same convention as pgloader
    if data_type == "int" and unsigned:
        return "bigint"
    if data_type == "bigint" and unsigned:
        return "numeric"
    return _MYSQL_PORTABLE.get(data_type, "text")


def _mysql(dsn: connect.Dsn, table: str) -> list[Column]:
    schema, name = split_table(table, what="table")
    conn = connect.mysql(dsn)
    try:
        with connect.translating("source", dsn), conn.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type, column_type FROM information_schema.columns "
                "WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s "
                "ORDER BY ordinal_position",
                (schema, name),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    return [Column(n, _mysql_type(str(d).lower(), str(t).lower())) for n, d, t in rows]


def _sqlite_type(declared: str) -> str:
    """SQLite's own affinity rules, refined by the names people declare."""
    text = declared.upper()
    if "INT" in text:
        return "bigint"
    if any(word in text for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if any(word in text for word in ("REAL", "FLOA", "DOUB")):
        return "double"
    if "DATETIME" in text or "TIMESTAMP" in text:
        return "timestamp"
    if "DATE" in text:
        return "date"
    if "BOOL" in text:
        return "boolean"
    if "DEC" in text or "NUMERIC" in text:
        return "numeric"
    return "text"


def _sqlite(dsn: connect.Dsn, table: str) -> list[Column]:
    schema, name = split_table(table, what="table")
    prefix = f"{sqlite_quote(schema)}." if schema else ""
    conn = connect.sqlite(dsn, must_exist=True)
    try:
        with connect.translating("source", dsn):
            rows = conn.execute(f"PRAGMA {prefix}table_info({sqlite_quote(name)})").fetchall()
    finally:
        conn.close()
    return [Column(row[1], _sqlite_type(row[2] or "")) for row in rows]


def list_columns(url: str, table: str) -> list[Column]:
    """The columns of a source table or view, in order, as portable types; SourceFailed if
    it does not exist. Types without a portable match (uuid, json, time…) come as text."""
    dsn = connect.parse(url)
    reader = {"postgresql": _postgres, "mysql": _mysql, "sqlite": _sqlite}[dsn.dialect]
    columns = reader(dsn, table)
    if not columns:
        raise _missing(table)
    return columns
