"""CSV downloads written by PostgreSQL itself (`COPY (SELECT …) TO STDOUT`), for speed.

Formatting a million rows value by value in Python runs at a fraction of the speed PostgreSQL
writes CSV, so on PostgreSQL the portal asks the database for the CSV and only passes its
bytes on, in chunks, as they come. The SELECT turns each value into the text
`templating.plain` gives it on the other path (SQLite), so a file reads back the same
whichever database serves it:

- integers and text as stored; booleans 是/否; dates YYYY-MM-DD;
- timestamps in ISO 8601 with a T, with six digits of microseconds only when there are any;
- exact numbers without trailing zeros (`trim_scale`, PostgreSQL 13 or later);
- doubles as the shortest decimal that reads back as the same number, never with an
  exponent, with ".0" on a whole number below 10¹⁶ (as Python's repr writes it), and nan and
  inf as Python names them.

Only CSV's own spelling differs, which every CSV reader reads back the same: rows end in LF,
and an empty text is written "" (a null stays empty, but for a lone column, where an empty
line would be read as no row at all).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy.orm import Session

from govshare.portal.models import PortalField, rows_table_name


def _double(c: str) -> str:
    # With extra_float_digits = 1, PostgreSQL writes the shortest text that reads back as the
    # same double, as Python's repr does, except that it turns to an exponent from 1e15 on
    # (Python from 1e16), leaves ".0" off a whole number and spells NaN and Infinity so.
    t = f"{c}::text"
    return (
        f"CASE WHEN {c} = 'NaN'::float8 THEN 'nan'"
        f" WHEN {c} = 'Infinity'::float8 THEN 'inf'"
        f" WHEN {c} = '-Infinity'::float8 THEN '-inf'"
        f" WHEN strpos({t}, 'e') = 0 THEN"
        f" CASE WHEN strpos({t}, '.') = 0 THEN {t} || '.0' ELSE {t} END"
        f" WHEN abs({c}) < 1e16::float8 AND {c} = trunc({c}) THEN {t}::numeric::text || '.0'"
        f" ELSE {t}::numeric::text END"
    )


def _timestamp(c: str) -> str:
    return (
        f"""to_char({c}, 'YYYY-MM-DD"T"HH24:MI:SS')"""
        f" || CASE WHEN date_trunc('second', {c}) = {c} THEN '' ELSE to_char({c}, '.US') END"
    )


_TEXT_OF = {
    "text": lambda c: c,
    "integer": lambda c: f"{c}::text",
    "boolean": lambda c: f"CASE WHEN {c} THEN '是' WHEN NOT {c} THEN '否' END",
    "date": lambda c: f"to_char({c}, 'YYYY-MM-DD')",
    "timestamp": _timestamp,
    "numeric": lambda c: f"trim_scale({c})::text",
    "double": _double,
}


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def copy_statement(dataset_id: int, fields: Sequence[PortalField]) -> str:
    """The COPY that writes `fields` of a dataset's rows, in their order, as CSV rows."""
    values = ", ".join(_TEXT_OF[f.type](_quoted(f.column)) for f in fields)
    if len(fields) == 1:
        # A lone null would be an empty line, which CSV readers skip: write it "" instead.
        values = f"coalesce({values}, '')"
    table = _quoted(rows_table_name(dataset_id))
    return f"COPY (SELECT {values} FROM {table} ORDER BY _row) TO STDOUT (FORMAT csv)"


def copy_chunks(
    db_session: Session, dataset_id: int, fields: Sequence[PortalField], chunk: int
) -> Iterator[bytes]:
    """The CSV rows of `fields`, in pieces of about `chunk` bytes, from PostgreSQL's COPY
    (within the session's transaction, so one consistent snapshot)."""
    connection = db_session.connection()
    connection.exec_driver_sql("SET LOCAL extra_float_digits = 1")
    driver = connection.connection.driver_connection
    assert driver is not None
    pending = bytearray()
    with driver.cursor() as cursor, cursor.copy(copy_statement(dataset_id, fields)) as copy:
        for row in copy:
            pending += row
            if len(pending) >= chunk:
                yield bytes(pending)
                pending.clear()
    if pending:
        yield bytes(pending)
