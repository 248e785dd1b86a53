"""Set-based writes shared by every bulk path (demo data, dispatch, billing, simulation).

`copy_rows` streams rows into a table: PostgreSQL's COPY when connected to PostgreSQL, otherwise
batched `executemany` inside the caller's transaction. Rows are tuples in `columns` order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection

BATCH = 50_000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert all rows into table; returns the number written."""
    cols = ", ".join(columns)
    written = 0
    with connection.cursor() as cursor:
        if is_postgres():
            raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # noqa: S608
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({placeholders})"  # noqa: S608
        it = iter(rows)
        while True:
            chunk = list(islice(it, BATCH))
            if not chunk:
                break
            cursor.executemany(sql, chunk)
            written += len(chunk)
    return written


def reset_sequence(table: str, column: str = "id") -> None:
    """After inserting explicit ids with COPY, move PostgreSQL's sequence past them."""
    if not is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
            f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        )


def next_id(table: str, column: str = "id") -> int:
    """The first id free in table (bulk writers assign ids themselves, then reset the sequence)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def db_timestamp(value) -> str:
    """An aware datetime as text both backends store and parse the same way (UTC)."""
    import datetime as dt

    utc = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = utc.isoformat(sep=" ", timespec="microseconds")
    return text + "+00:00" if is_postgres() else text
