"""Set-based writes shared by every bulk path (demo data, dispatch, billing, simulation).

`copy_rows` streams rows into a table: PostgreSQL's COPY when connected to PostgreSQL, otherwise
batched `executemany` inside the caller's transaction. Rows are tuples in `columns` order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from django.db import connection

if TYPE_CHECKING:
    import numpy as np

BATCH = 50_000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert all rows into table; returns the number written."""
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
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


def new_ids(table: str, n: int, column: str = "id") -> np.ndarray:
    """n ids for rows about to be written, ascending, taken from the table's sequence so no
    concurrent writer (another run, a member's request through the ORM) can take one of them
    (they need not be consecutive). SQLite runs one writer at a time (IMMEDIATE
    transactions): the ids after the table's last."""
    import numpy as np

    if n <= 0:
        return np.zeros(0, np.int64)
    if not is_postgres():
        first = next_id(table, column)
        return np.arange(first, first + n, dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        sequence = cursor.fetchone()[0]
    # The sequence named once (looked up for every row, it cost 7 µs an id; 0.8 µs so).
    return read_columns(
        f"SELECT nextval('{sequence}'::regclass) FROM generate_series(1, {int(n)})",  # noqa: S608
        [("id", "int64")],
    )["id"]


def next_id(table: str, column: str = "id") -> int:
    """The first id free in table, for builders that write a whole table in bulk with no one
    else writing (the demo and benchmark builders), then reset the sequence. Every other bulk
    writer lets the database number its rows, or takes `new_ids`."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def db_timestamp(value) -> str:
    """An aware datetime as text both backends store and parse the same way (UTC)."""
    import datetime as dt

    utc = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = utc.isoformat(sep=" ", timespec="microseconds")
    return text + "+00:00" if is_postgres() else text


def day_index_sql(column: str, start, days: int) -> tuple[str, str]:
    """For set-wise reads by business day: (a SQL expression giving the day of `column` as an
    index from `start` in the business's TIME_ZONE, daylight saving included; a WHERE clause
    keeping [start, start + days)). Literal values only (callers build fixed column names)."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    bounds = [
        db_timestamp(dt.datetime.combine(start + dt.timedelta(days=i), dt.time(), tzinfo=tz))
        for i in range(days + 1)
    ]
    if is_postgres():
        expr = f"(({column} AT TIME ZONE '{settings.TIME_ZONE}')::date - DATE '{start}')"
    elif days <= 1:
        expr = "0"
    else:  # each local midnight as a UTC instant: exact across a change of offset
        expr = (
            "CASE "
            + " ".join(f"WHEN {column} < '{b}' THEN {i}" for i, b in enumerate(bounds[1:-1]))
            + f" ELSE {days - 1} END"
        )
    return expr, f"{column} >= '{bounds[0]}' AND {column} < '{bounds[-1]}'"


def read_columns(sql: str, columns: list[tuple[str, str]]) -> dict:
    """Run a SELECT and return its columns as numpy arrays: COPY ... TO STDOUT read by pyarrow
    on PostgreSQL, fetchall elsewhere. `sql` must not take parameters (inline only values the
    code made, never input); `columns` are (name, numpy dtype) in select order."""
    import io

    import numpy as np

    names = [c for c, _ in columns]
    if is_postgres():
        import pyarrow as pa
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy,
        ):
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        if buf.getbuffer().nbytes == 0:
            return {c: np.zeros(0, dtype=t) for c, t in columns}
        table = pacsv.read_csv(
            buf,
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    c: pa.string() if t == "object" else pa.from_numpy_dtype(np.dtype(t))
                    for c, t in columns
                }
            ),
        )
        return {
            c: table.column(c).to_numpy(zero_copy_only=False).astype(t, copy=False)
            for c, t in columns
        }
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    if not rows:
        return {c: np.zeros(0, dtype=t) for c, t in columns}
    cols = list(zip(*rows, strict=True))
    return {c: np.asarray(cols[i], dtype=t) for i, (c, t) in enumerate(columns)}


_SEND = {
    "int64": ("int8send", "bigint", ">i8"),
    "int32": ("int4send", "integer", ">i4"),
    "int16": ("int2send", "smallint", ">i2"),
    "int8": ("int2send", "smallint", ">i2"),
}


def read_packed(sql: str, columns: list[tuple[str, str]], chunk: int = 4096) -> dict:
    """Like `read_columns` for integer columns (never NULL) of many rows: on PostgreSQL the
    rows come packed in binary, a few thousand to a value (grouped by the first column //
    `chunk`), so Python handles a few hundred values instead of millions of rows (a COPY hands
    each row to Python on its own: seconds for millions, and threads reading at once queue on
    the interpreter). Rows keep their order within a group; groups come in first-column order.
    Elsewhere it is `read_columns`."""
    import numpy as np

    if not is_postgres():
        return read_columns(sql, columns)
    first = columns[0][0]
    packed = " || ".join(f"{_SEND[t][0]}(x.{c}::{_SEND[t][1]})" for c, t in columns)
    dtype = np.dtype([(c, _SEND[t][2]) for c, t in columns])
    import psycopg

    connection.ensure_connection()
    # A plain (server-binding) cursor: Django's client-side ones cannot take binary results.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"SELECT x.{first} / {int(chunk)} AS g, COUNT(*), "  # noqa: S608 (code-made SQL)
            f"string_agg({packed}, ''::bytea) FROM ({sql}) x GROUP BY 1",
            binary=True,
        )
        groups = sorted(cursor.fetchall(), key=lambda r: r[0])
    data = b"".join(bytes(g[2]) for g in groups)
    rows = sum(g[1] for g in groups)
    if len(data) != rows * dtype.itemsize:
        raise ValueError("read_packed: a NULL in the columns read")  # string_agg skips those
    arr = np.frombuffer(data, dtype=dtype)
    return {c: arr[c].astype(t) for c, t in columns}


def temp_table(name: str, columns: str, rows) -> None:
    """A temporary table for set-based joins, filled in bulk (dropped first if it exists).
    `rows` are tuples, or a dict of arrays by column name."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
    if isinstance(rows, dict):
        copy_arrays(name, rows)
    else:
        copy_rows(name, [c.split()[0] for c in columns.split(",")], rows)
    if is_postgres():
        # Temporary tables have no statistics until analysed; without them the planner guesses
        # their size and can scan a whole big table to join a few thousand rows.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {name}")


@contextlib.contextmanager
def index_joins():
    """On PostgreSQL, join by index lookups for the statements inside (no hash or merge joins).
    For a small sorted set of keys against a big table the planner, costing random reads of a
    disc it cannot see is cached, prefers to scan the whole table and probe a hash per row; on
    a 28-million-row table that is ten seconds against one or two for the lookups."""
    if not is_postgres():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_hashjoin = off")
        cursor.execute("SET enable_mergejoin = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_hashjoin")
            cursor.execute("RESET enable_mergejoin")


def execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def copy_arrays(table: str, columns: dict) -> int:
    """Insert columns given as arrays (or one value for every row): on PostgreSQL written as one
    CSV block by pyarrow and sent with COPY, far faster than row by row for big batches."""
    import numpy as np

    n = max((len(v) for v in columns.values() if isinstance(v, (list, np.ndarray))), default=0)
    if n == 0:
        return 0
    if is_postgres():
        import io

        import pyarrow as pa
        import pyarrow.csv as pacsv

        data = {}
        for name, v in columns.items():
            if isinstance(v, (list, np.ndarray)):
                data[name] = pa.array(v)
            elif v is None:
                data[name] = pa.nulls(n, pa.int64())
            else:
                data[name] = pa.array([v] * n)
        buf = io.BytesIO()
        pacsv.write_csv(pa.table(data), buf, write_options=pacsv.WriteOptions(include_header=False))
        cols = ", ".join(connection.ops.quote_name(c) for c in columns)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buf.getvalue())
        return n
    lists = [
        v.tolist() if isinstance(v, np.ndarray) else v if isinstance(v, list) else [v] * n
        for v in columns.values()
    ]
    return copy_rows(table, list(columns), zip(*lists, strict=True))


def after_bulk_load() -> None:
    """After millions of rows arrived in bulk (the demo or benchmark builder, an import), on
    PostgreSQL: VACUUM (ANALYZE) sets every new row's hint bits and the visibility map and gives
    the planner the tables' statistics, so the first run after the load neither rewrites every
    page it reads nor plans on empty-table estimates; a checkpoint then writes it all out,
    rather than during that run (skipped where the role may not). Inside a transaction only
    the statistics can be taken. On SQLite: the write-ahead log, gigabytes after a big load,
    is checkpointed into the database and truncated (every later read searches it otherwise)."""
    if not is_postgres():
        if not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    from django.db import DatabaseError

    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("ANALYZE")
            return
        cursor.execute("VACUUM (ANALYZE)")
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
