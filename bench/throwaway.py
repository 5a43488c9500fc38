"""Throwaway PostgreSQL databases of the benchmarks: created empty, dropped at the end."""

from __future__ import annotations

from sqlalchemy import create_engine, text

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def recreate(name: str) -> str:
    """Drops the database if it is there, creates it empty and returns its URL."""
    drop(name, create=True)
    return PG + name


def drop(name: str, *, create: bool = False) -> None:
    admin = create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
