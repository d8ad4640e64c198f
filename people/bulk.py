"""The one bulk write path for persons with their phones, emails and tags (the import's apply, the sync's pages).

Rows are plain dicts of model attribute names (``first_name``, ``custom_attributes``, ``company_id`` …). New
persons go in with COPY under ids reserved up front; changed persons with one ``UPDATE … FROM`` a staging
table; contacts with COPY and tag links with one ``INSERT … ON CONFLICT DO NOTHING``. Before anything is
written every value is checked against what the database's constraints accept (people/validation.py): a row
that would fail is refused with a ValidationError naming it, and nothing of the call is written.

Invariants: the caller holds a transaction; realm-level uniqueness of phones and emails is the caller's
matching (a conflict is an IntegrityError, as with a plain INSERT); no outbox rows here (the caller records
them with ``infobip.outbox``); statistics are the caller's (refreshed per batch, see core.bulk), except the
person table's before contacts are written: each contact's (person, realm) foreign key is checked row by row
with a plan made from them, and persons written a moment before into an empty table would make that plan a
sequential scan per contact (quadratic in the batch); a call of fewer than ``core.bulk.MIN_ROWS`` contacts (a
sync record's) skips that look.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from core.bulk import MIN_ROWS, copy_rows, reserve_ids, statistics_refresh, update_from_rows
from core.errors import ValidationError
from people import validation
from people.models import Origin, Person, PersonEmail, PersonPhone, PersonType

ATTRIBUTE_FIELDS = (
    "type", "external_id", "first_name", "middle_name", "last_name", "nick_name", "gender", "birth_date",
    "address", "city",
    "country", "preferred_language", "profile_picture",
)  # fmt: skip
NULLABLE = frozenset({"external_id", "birth_date"})
# Every column of a new person, in the table's order (the primary key first).
PERSON_COLUMNS = tuple(f.attname for f in Person._meta.concrete_fields)
JSON_COLUMNS = frozenset({"custom_attributes"})
PERSON_TABLES = ("people_person", "people_personphone", "people_personemail", "people_person_tags")

MSG_REFUSED = "person row {index}: {field} {value!r} cannot be stored"


def _defaults(realm, now: dt.datetime, origin: str, sync_status: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in Person._meta.concrete_fields:
        if field.has_default():
            values[field.attname] = field.get_default()
        else:
            values[field.attname] = "" if field.empty_strings_allowed and not field.null else None
    values.update(
        realm_id=realm.pk, type=PersonType.CUSTOMER, origin=origin, modified_from=origin, sync_status=sync_status,
        created=now, modified=now, custom_attributes={}, merged_into_id=None,
    )  # fmt: skip
    return values


def _check(index: int, row: dict[str, Any]) -> None:
    for name in ATTRIBUTE_FIELDS:
        value = row.get(name)
        if value in (None, "") or name == "birth_date":
            if value == "" and name in NULLABLE:
                raise ValidationError.single(name, MSG_REFUSED.format(index=index, field=name, value=value))
            continue
        if not isinstance(value, str) or not validation.attribute_fits(name, value):
            raise ValidationError.single(name, MSG_REFUSED.format(index=index, field=name, value=value))
    if "custom_attributes" in row and not isinstance(row["custom_attributes"], dict):
        raise ValidationError.single("custom_attributes", "must be an object")


def persons_insert(
    *, realm, rows: Sequence[dict[str, Any]], now: dt.datetime, origin: str = Origin.API, sync_status: str
) -> list[int]:
    """Create a person per row (ids given in ``row["id"]`` are kept, the others reserved); returns the ids.

    Missing columns get the model's defaults, ``origin``/``sync_status`` and ``now``."""
    if not rows:
        return []
    for index, row in enumerate(rows):
        _check(index, row)
    missing = [i for i, row in enumerate(rows) if row.get("id") is None]
    ids = [row.get("id") for row in rows]
    for i, pk in zip(missing, reserve_ids(Person, len(missing)), strict=True):
        ids[i] = pk
    base = _defaults(realm, now, origin, sync_status)

    def values() -> Iterable[list[Any]]:
        for pk, row in zip(ids, rows, strict=True):
            merged = {**base, **row, "id": pk}
            yield [
                json.dumps(merged[c], ensure_ascii=False) if c in JSON_COLUMNS else merged[c] for c in PERSON_COLUMNS
            ]

    copy_rows(Person._meta.db_table, [Person._meta.get_field(c).column for c in PERSON_COLUMNS], values())
    return ids


def persons_update(*, rows: Sequence[dict[str, Any]], fields: Sequence[str], also: dict[str, Any] | None = None) -> int:
    """Set ``fields`` (attribute names) of the persons ``row["id"]`` to the rows' values, and ``also`` (the same
    constant for every row: ``modified``, ``modified_from``, ``sync_status`` …); one statement."""
    if not rows or not (fields or also):
        return 0
    for index, row in enumerate(rows):
        _check(index, {name: row[name] for name in fields})
    columns = ["id", *fields]
    staged = (
        [row["id"], *(json.dumps(row[n], ensure_ascii=False) if n in JSON_COLUMNS else row[n] for n in fields)]
        for row in rows
    )
    qn = connection.ops.quote_name
    also = dict(also or {})
    extra = ", ".join(f"{qn(Person._meta.get_field(name).column)} = %s" for name in also)
    if not fields:  # only constants: no staging needed
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE people_person SET {extra} WHERE id = ANY(%s)",  # noqa: S608 - model column names
                [*also.values(), [row["id"] for row in rows]],
            )
            return cursor.rowcount
    return update_from_rows(
        Person._meta.db_table,
        [Person._meta.get_field(c).column for c in columns],
        staged,
        also=extra,
        params=list(also.values()),
    )


def contacts_add(
    *,
    realm,
    now: dt.datetime,
    phones: Iterable[tuple[int, str]] = (),
    emails: Iterable[tuple[int, str]] = (),
    tags: Iterable[tuple[int, int]] = (),
) -> tuple[int, int, int]:
    """Add (person id, number) phones, (person id, address) emails and (person id, tag id) links; returns the
    counts written. Phones are international digits; a tag link that exists already is left as it is."""
    phones, emails, tags = list(phones), list(emails), list(tags)
    for _, number in phones:
        if not isinstance(number, str) or not validation.phone_digits_fit(number):
            raise ValidationError.single("phone", validation.MSG_INVALID_PHONE.format(value=number))
    for _, address in emails:
        if not isinstance(address, str) or not validation.email_fits(address):
            raise ValidationError.single("email", validation.MSG_INVALID_EMAIL.format(value=address))
    # Nothing to write costs nothing: the sync calls this for every merged person.
    written_phones = written_emails = 0
    if len(phones) + len(emails) >= MIN_ROWS:  # a few contacts are checked cheaply by any plan
        statistics_refresh(["people_person"])
    if phones:
        written_phones = copy_rows(
            PersonPhone._meta.db_table,
            ["realm_id", "person_id", "number", "created"],
            ((realm.pk, pid, number, now) for pid, number in phones),
        )
    if emails:
        written_emails = copy_rows(
            PersonEmail._meta.db_table,
            ["realm_id", "person_id", "address", "created"],
            ((realm.pk, pid, address, now) for pid, address in emails),
        )
    linked = 0
    if tags:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO people_person_tags (person_id, tag_id) SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
                "ON CONFLICT DO NOTHING",
                [[pid for pid, _ in tags], [tid for _, tid in tags]],
            )
            linked = cursor.rowcount
    return written_phones, written_emails, linked


def person_row(person: Person, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """A Person object's values as a row for this module (all columns, or ``id`` and ``fields``)."""
    names = PERSON_COLUMNS if fields is None else ("id", *fields)
    return {name: person.__dict__[name] for name in names}
