"""The persons export (REST GET /v1/identities/persons/export and the admin's): CSV, XLSX or JSON lines,
streamed from a server-side cursor in chunks, so memory stays flat whatever the number of persons.

Invariant: no cell of a CSV or XLSX starts with = + - @ tab or CR (such values get a leading '), so a
spreadsheet never runs a value as a formula."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.db.models import OuterRef, Subquery
from django.http import StreamingHttpResponse

from core.errors import ValidationError
from people.models import Person, PersonEmail, PersonPhone
from people.segments import segment_q
from people.selectors import person_list

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE, "jsonl": "application/x-ndjson"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SEPARATOR = "; "
# (column header, queryset value name)
COLUMNS = (
    ("id", "pk"), ("externalId", "external_id"), ("type", "type"), ("firstName", "first_name"),
    ("lastName", "last_name"), ("middleName", "middle_name"), ("gender", "gender"), ("birthDate", "birth_date"),
    ("address", "address"), ("city", "city"), ("country", "country"), ("preferredLanguage", "preferred_language"),
    ("emails", "x_emails"), ("phones", "x_phones"), ("tags", "x_tags"), ("company", "company_id"),
    ("customAttributes", "custom_attributes"), ("createdAt", "created"), ("modifiedAt", "modified"),
)  # fmt: skip
HEADERS = [header for header, _ in COLUMNS]


def _joined(queryset, field: str) -> Subquery:
    values = queryset.order_by().values("person_id").annotate(joined=StringAgg(field, SEPARATOR)).values("joined")
    return Subquery(values)


def export_queryset(realm, filter_raw: str | None, segment: Any = None):
    """The rows of the export of a realm's filtered persons (and of its segment `segment`, an id, when given)."""
    persons = person_list(realm, filter_raw)
    if segment not in (None, ""):
        try:
            segment_id = int(segment)
        except (TypeError, ValueError):
            raise ValidationError.single("segment", "must be a segment id") from None
        persons = persons.filter(segment_q(realm, segment_id))
    return export_rows_of(persons)


def export_rows_of(persons):
    """The rows of the export: one per person, contacts and tags joined into one text each (one statement)."""
    tags = Person.tags.through.objects.filter(person_id=OuterRef("pk"))
    return (
        persons.order_by("pk")
        .annotate(
            x_emails=_joined(PersonEmail.objects.filter(person_id=OuterRef("pk")), "address"),
            x_phones=_joined(PersonPhone.objects.filter(person_id=OuterRef("pk")), "number"),
            x_tags=_joined(tags, "tag__name"),
        )
        .values_list(*(name for _, name in COLUMNS))
    )


def rows(realm, filter_raw: str | None, segment: Any = None) -> Iterator[tuple]:
    """Export rows through a server-side cursor, CHUNK rows at a time."""
    return export_queryset(realm, filter_raw, segment).iterator(chunk_size=CHUNK)


def safe_cell(value: Any) -> Any:
    """A value for a spreadsheet cell: text that could start a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    elif not isinstance(value, str | int | float):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """csv.writer's file: hands back what it writes."""

    def write(self, text: str) -> str:
        return text


def csv_stream(source: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(HEADERS)  # the BOM: spreadsheets then read UTF-8
    buffer = []
    for row in source:
        buffer.append(writer.writerow([safe_cell(value) for value in row]))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def jsonl_stream(source: Iterable[tuple]) -> Iterator[str]:
    for row in source:
        record = {}
        for header, value in zip(HEADERS, row, strict=True):
            if header in ("emails", "phones", "tags"):
                value = value.split(SEPARATOR) if value else []
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            record[header] = value
        yield json.dumps(record, ensure_ascii=False) + "\n"


def xlsx_stream(source: Iterable[tuple]) -> Iterator[bytes]:
    """openpyxl's write-only workbook spools rows to disk (flat memory); the finished file is streamed."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("persons")
    sheet.append(HEADERS)
    for row in source:
        sheet.append([safe_cell(value) for value in row])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(64 * 1024):
            yield chunk


STREAMS = {"csv": csv_stream, "xlsx": xlsx_stream, "jsonl": jsonl_stream}


def persons_export_response(realm, filter_raw: str | None, fmt: str, segment: Any = None) -> StreamingHttpResponse:
    """The streaming response of an export; a bad format, filter or segment is an error before any byte."""
    if fmt not in FORMATS:
        raise ValidationError.single("format", f"must be one of {', '.join(FORMATS)}")
    export_queryset(realm, filter_raw, segment)  # parsed here: its errors are a 400/404, not a broken stream
    return streaming_response(rows(realm, filter_raw, segment), fmt)


def streaming_response(source: Iterable[tuple], fmt: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(STREAMS[fmt](source), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="persons.{fmt}"'
    return response
