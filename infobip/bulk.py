"""Fast bulk updates for the push and the sync: one ``UPDATE … FROM unnest(arrays)`` per chunk.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per field and row; at a thousand rows and five
fields that costs seconds of expression building per call. Here every column travels as one typed array."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def _array_type(field: models.Field) -> str:
    db_type = field.db_type(connection) or field.rel_db_type(connection)
    return {"serial": "integer", "bigserial": "bigint"}.get(db_type, db_type)


def bulk_set(
    model: type[models.Model], objs: Sequence[models.Model], fields: Iterable[str], *, chunk: int = 5000
) -> int:
    """Write ``fields`` of ``objs`` (by primary key) as they are on the objects. No signals, no auto_now.

    JSON fields are not supported (arrays of jsonb need per-value adaptation): use ``bulk_update`` for those."""
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
    # Only quoted names from the model's meta and type names go into the text; values travel as parameters.
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET "  # noqa: S608
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


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` ids from the table's sequence, so rows can reference each other before they are written."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_insert(model: type[models.Model], objs: Sequence[models.Model]) -> int:
    """Insert unsaved ``objs`` with PostgreSQL COPY (several times faster than ``bulk_create``'s INSERT).

    Every concrete column is written as it is on the objects (defaults were applied when they were built;
    ``auto_now`` is not); the primary key too when every object has one, else the sequence gives it. Values go
    to psycopg as they are (str, int, date, aware datetime, None); JSON fields are serialised here. Conflicts
    are errors, as with a plain INSERT."""
    if not objs:
        return 0
    meta = model._meta
    with_pk = all(obj.pk is not None for obj in objs)
    fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
    qn = connection.ops.quote_name
    statement = f"COPY {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    names = [f.attname for f in fields]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            values = obj.__dict__
            copy.write_row([json.dumps(values[name]) if name in json_fields else values[name] for name in names])
    return len(objs)
