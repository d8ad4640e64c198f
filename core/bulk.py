"""Bulk SQL helpers every bulk path shares: ids from sequences, COPY, set-based updates, planner statistics.

Invariants: values always travel as COPY data or query parameters (only quoted names from a model's meta or
the caller's constant column lists go into SQL text); nothing here commits; nothing here imports an app.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

GROWTH_FACTOR = 2  # ANALYZE a table again once it has grown past this many times its rows at the last ANALYZE
MIN_ROWS = 500  # …and by at least this many rows: a few pages are read whole whatever the plan


def _table(model_or_table: type[models.Model] | str) -> str:
    return model_or_table if isinstance(model_or_table, str) else model_or_table._meta.db_table


def reserve_ids(model_or_table: type[models.Model] | str, count: int, *, column: str = "id") -> list[int]:
    """``count`` ids from the table's sequence, so rows can reference each other before they are written."""
    if count <= 0:
        return []
    if not isinstance(model_or_table, str):
        column = model_or_table._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [_table(model_or_table), column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table`` in the current transaction; returns the count."""
    count = 0
    names = ", ".join(f'"{name}"' for name in columns)  # quoted: "row", "column" are column names too
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_text(table: str, columns: Sequence[str], chunks: Iterable[str]) -> None:
    """COPY ``chunks`` of PostgreSQL's text format (lines of tab-separated values, which the caller has
    escaped: ``\\`` for a backslash, no raw tab, newline or carriage return in a value) into ``table``."""
    names = ", ".join(f'"{name}"' for name in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)


def copy_insert(model: type[models.Model], objs: Sequence[models.Model]) -> int:
    """Insert unsaved ``objs`` with COPY (several times faster than ``bulk_create``'s INSERT).

    Every concrete column is written as it is on the objects (defaults were applied when they were built;
    ``auto_now`` is not); the primary key too when every object has one, else the sequence gives it. JSON
    fields are serialised here. Conflicts are errors, as with a plain INSERT."""
    if not objs:
        return 0
    meta = model._meta
    with_pk = all(obj.pk is not None for obj in objs)
    fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
    names = [f.attname for f in fields]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    return copy_rows(
        connection.ops.quote_name(meta.db_table),
        [f.column for f in fields],
        ([json.dumps(obj.__dict__[n]) if n in json_fields else obj.__dict__[n] for n in names] for obj in objs),
    )


def _array_type(field: models.Field) -> str:
    db_type = field.db_type(connection) or field.rel_db_type(connection)
    return {"serial": "integer", "bigserial": "bigint"}.get(db_type, db_type)


def bulk_set(
    model: type[models.Model], objs: Sequence[models.Model], fields: Iterable[str], *, chunk: int = 5000
) -> int:
    """Write ``fields`` of ``objs`` (by primary key) as they are on the objects: one ``UPDATE … FROM
    unnest(arrays)`` per chunk. No signals, no auto_now. JSON fields: use :func:`update_from_rows`.

    Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per field and row; at a thousand rows and
    five fields that costs seconds of expression building per call. Here every column travels as one array."""
    fields = list(fields)
    if not objs or not fields:
        return 0
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    if any(isinstance(f, models.JSONField) for f in columns):
        raise ValueError("bulk_set does not write JSON fields")
    qn = connection.ops.quote_name
    names = [pk.column, *(f.column for f in columns)]
    types = [_array_type(pk), *(_array_type(f) for f in columns)]
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET "  # noqa: S608 - names from the model's meta
        + ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns)
        + " FROM unnest("
        + ", ".join(f"%s::{t}[]" for t in types)
        + f") AS v({', '.join(qn(n) for n in names)}) WHERE t.{qn(pk.column)} = v.{qn(pk.column)}"
    )
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            part = objs[start : start + chunk]
            arrays: list[list[Any]] = [[pk.get_db_prep_save(obj.pk, connection) for obj in part]]
            for field in columns:
                arrays.append([field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in part])
            cursor.execute(sql, arrays)
            updated += cursor.rowcount
    return updated


def update_from_rows(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, also: str = "", params: Sequence = ()
) -> int:
    """``UPDATE table SET columns[1:] = staged values [, also] FROM`` a staging table filled by COPY, joined on
    ``columns[0]`` (the key). Any column type (JSON as text), one statement whatever the row count.

    ``also`` is extra SQL for the SET list (the caller's constants, e.g. ``modified = %s``) with ``params``."""
    if not connection.in_atomic_block:
        raise RuntimeError("update_from_rows needs a transaction (its staging table lives until the commit)")
    qn = connection.ops.quote_name
    staging = f"bulk_{table}_{zlib.crc32(','.join(columns).encode()):08x}"  # one per column list
    names = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {qn(staging)} ON COMMIT DROP AS "  # noqa: S608 - our constants
            f"SELECT {names} FROM {qn(table)} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {qn(staging)}")
    if not copy_rows(qn(staging), columns, rows):
        return 0
    key = qn(columns[0])
    assignments = ", ".join(f"{qn(c)} = s.{qn(c)}" for c in columns[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(table)} t SET {assignments}{', ' + also if also else ''} "  # noqa: S608
            f"FROM {qn(staging)} s WHERE t.{key} = s.{key}",
            list(params),
        )
        return cursor.rowcount


def statistics_refresh(tables: Iterable[str]) -> list[str]:
    """ANALYZE those of ``tables`` that hold rows but were never analyzed or were analyzed empty, or whose rows
    have grown past ``GROWTH_FACTOR`` times (and ``MIN_ROWS`` more than) the count of their last ANALYZE;
    returns the ones analyzed.

    A new database has no statistics: the planner then believes a table empty, and the per-row checks of
    foreign keys (COPY of contacts into a table whose person table was just filled) scan instead of using an
    index, so a bulk path goes quadratic (a table analyzed while empty, as autovacuum or a setup step leaves a
    new one, is the worst case). Never analyzed is ``pg_class.reltuples = -1``; the rows now are the
    shared statistics' live rows plus this backend's not yet reported inserts and deletes (its open
    transaction's included, which ANALYZE counts too), against ``reltuples`` of the last ANALYZE. Physical
    size would mislead: a table of dead rows analyzed as empty looks big. A sampled ANALYZE costs milliseconds.
    """
    tables = list(dict.fromkeys(tables))
    if not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples, "
            "coalesce(s.n_live_tup, 0) + coalesce(x.n_tup_ins, 0) - coalesce(x.n_tup_del, 0) "
            "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "LEFT JOIN pg_stat_xact_user_tables x ON x.relid = c.oid "
            "WHERE c.relname = ANY(%s) AND c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace",
            [tables],
        )
        stale = [
            name
            for name, reltuples, rows in cursor.fetchall()
            if rows > 0 and (reltuples <= 0 or (rows > GROWTH_FACTOR * reltuples and rows - reltuples >= MIN_ROWS))
        ]
        for name in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    return stale
