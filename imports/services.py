"""Every write of the import: create a job from an upload, map, analyze, start, run, cancel, report.

The REST endpoint (`POST /v1/imports`), the admin wizard and `manage.py import_people` are thin adapters over
these functions. Each service is one transaction, except `import_job_run`, which is one transaction *per batch*
on purpose: a batch's persons, contacts, tags, merges, outbox rows, its `ImportBatch` row (which rows are in)
and the job's counters commit together, so a crash or a cancel between batches leaves no half-applied group.

The pipeline is set-based: rows are parsed and validated once (analysis) and staged with COPY; the import
reads them back batch by batch, looks persons up by phone/email/externalId with `= ANY(...)`, creates
persons and contacts with COPY, updates changed persons with one UPDATE … FROM a temp table, and writes one
outbox row per changed person with one INSERT. Only the rare group that matches several existing persons goes
through `people.merging.persons_merge` (Infobip's merge rules, survivor = `default_survivor`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from companies.models import Company
from companies.services import company_create
from core.bulk import copy_rows
from core.errors import Conflict, DomainError, ErrorCollector, ValidationError
from imports import mapping as mapping_rules
from imports import readers
from imports.models import (
    FINISHED_STATUSES,
    DuplicateStrategy,
    ImportBatch,
    ImportIssue,
    ImportJob,
    ImportStatus,
    IssueKind,
    SavedMapping,
)
from imports.parsing import Problem, RowParser, row_keys
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record_many
from people import bulk as person_bulk
from people.fields import API_NAME
from people.merging import default_survivor, persons_merge
from people.models import CONTACTS_PER_PERSON_MAX, Origin, Person, SyncStatus
from people.services import _clean_tag_name, custom_attribute_definitions, tags_get_or_create

log = logging.getLogger(__name__)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")

SAMPLE_ROWS = 10
RUN_LOCK, REALM_LOCK = 81_002, 81_001  # advisory lock namespaces: one runner per job, one batch per realm
LOOKUP_CHUNK = 20_000
# Single-valued attributes the file can set (model fields), in Person's column order.
ATTRIBUTE_FIELDS = (
    "type", "external_id", "first_name", "middle_name", "last_name", "gender", "birth_date", "address", "city",
    "country", "preferred_language",
)  # fmt: skip
NULLABLE = {"external_id", "birth_date"}

MSG_NOT_MAPPABLE = "Import #{pk} is {status}: its mapping can no longer change."
MSG_NOT_ANALYZED = "Import #{pk} must be analyzed (with its current mapping) before it can start."
MSG_ALREADY = "Import #{pk} is already {status}."
MSG_STRATEGY = "Choose how duplicates are resolved: discard or resolve."
MSG_ENCODING = "{value!r} is not an encoding this import can read."
MSG_DELIMITER = "{value!r} is not a delimiter this import can read (comma, semicolon, tab or pipe)."
MSG_DUPLICATE_OF = "duplicate of row {first}: shares {key} with row {other}"
MSG_MATCHES_PERSON = "matches existing person {person_id} ({key}); DISCARD does not change existing persons"
MSG_CONTACT_LIMIT = "the person would have more than {limit} {kind}s (rows {rows})"
MSG_MERGE_FAILED = "the persons this row matches ({ids}) could not be merged: {reason}"
MSG_HEADERS_CHANGED = "The file's columns changed since it was mapped; map it again."
MSG_NOT_CANCELLABLE = "Import #{pk} is {status}: only a queued or running import can be cancelled."
MSG_NOT_RESUMABLE = "Import #{pk} failed before its rows were analyzed: there is nothing to resume."


def batch_rows() -> int:
    return settings.IMPORT_BATCH_ROWS


# -------------------------------------------------------------------------------------------- helpers


def _describe_key(key: str) -> str:
    kind, _, value = key.partition(":")
    return {"p": "phone", "e": "email", "x": "externalId"}[kind] + f" {value}"


def _ranges(numbers: Iterable[int]) -> list[list[int]]:
    """[2, 3, 4, 7] → [[2, 4], [7, 7]]"""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def ranges_text(ranges: list[list[int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges)


def _owners(realm_id: int, keys: Iterable[str]) -> dict[str, int]:
    """key (`p:…`, `e:…` lower-cased, `x:…`) → id of the active person holding it, in bulk."""
    phones, emails, externals = [], [], []
    for key in keys:
        kind, _, value = key.partition(":")
        (phones if kind == "p" else emails if kind == "e" else externals).append(value)
    found: dict[str, int] = {}
    queries = (
        ("p", phones, "SELECT number, person_id FROM people_personphone WHERE realm_id = %s AND number = ANY(%s)"),
        (
            "e",
            emails,
            "SELECT lower(address), person_id FROM people_personemail WHERE realm_id = %s AND lower(address) = ANY(%s)",
        ),
        (
            "x",
            externals,
            # An absorbed person's externalId leads to its survivor, as everywhere else.
            "SELECT external_id, COALESCE(merged_into_id, id) FROM people_person "
            "WHERE realm_id = %s AND external_id = ANY(%s)",
        ),
    )
    with connection.cursor() as cursor:
        for kind, values, sql in queries:
            for start in range(0, len(values), LOOKUP_CHUNK):
                cursor.execute(sql, [realm_id, values[start : start + LOOKUP_CHUNK]])
                for value, person_id in cursor.fetchall():
                    found[f"{kind}:{value}"] = person_id
    return found


class _UnionFind:
    """Over dense indexes 0..n-1 (an array, not a list of ints); a set's root is its smallest index."""

    def __init__(self, size: int = 0) -> None:
        self.parent = array("q", range(size))

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


# --------------------------------------------------------------------------------------- upload & map


def _data_path(job: ImportJob) -> Path:
    return Path(job.data_file.path)


def table_info(job: ImportJob) -> readers.TableInfo:
    """How the job's table is read: its format and the encoding, delimiter and sheet in force."""
    return readers.TableInfo(
        job.file_format, encoding=job.effective_encoding, delimiter=job.effective_delimiter, sheet_name=job.sheet_name
    )


def _saved_mapping(realm, headers: list[str]) -> dict[str, Any] | None:
    saved = SavedMapping.objects.filter(realm=realm, header_key=mapping_rules.header_key(headers)).first()
    return saved.mapping if saved else None


def import_job_create(
    *,
    realm,
    uploaded_file,
    user=None,
    started_by: str = "",
    mapping: list[dict[str, Any]] | None = None,
) -> ImportJob:
    """Store an upload and read what it holds: format, encoding, delimiter, headers, a pre-filled mapping.

    `uploaded_file` is any Django File (an upload, or `File(open(path, "rb"))`). Refuses (FileRefused) what
    cannot be imported, keeping nothing. `mapping` (one entry per column) replaces the suggested one.
    """
    name = Path(uploaded_file.name or "upload").name
    ext = readers.check_upload_name_and_size(name, uploaded_file.size)
    job = ImportJob(
        realm=realm,
        created_by=user if getattr(user, "pk", None) else None,
        started_by=started_by or (user.get_username() if getattr(user, "pk", None) else ""),
        original_name=name[:255],
    )
    job.file.save(name, uploaded_file, save=False)
    try:
        path = Path(job.file.path)
        if ext == ".zip":
            member = readers.zip_member(path)
            inner = Path(member.filename).name
            job.inner_name = inner[:255]
            job.data_file.save(inner, ContentFile(b""), save=False)
            with open(job.data_file.path, "wb") as out:
                job.file_size = readers.zip_extract(path, member, out)
            table_name = inner
        else:
            job.data_file.name = job.file.name
            job.file_size = uploaded_file.size
            table_name = name
        info = readers.inspect_table(_data_path(job), table_name, country=realm.default_country)
        job.file_format, job.sheet_name, job.notes = info.file_format, info.sheet_name, info.notes
        job.detected_encoding, job.detected_delimiter = info.encoding, info.delimiter
        headers, sample = readers.preview(_data_path(job), info)
        job.headers = headers
        definitions = custom_attribute_definitions(realm)
        if mapping is not None:
            job.mapping = mapping_rules.clean_mapping(mapping, headers, definitions)
        else:
            job.mapping = mapping_rules.suggest_mapping(headers, sample, definitions, _saved_mapping(realm, headers))
        with transaction.atomic():
            job.save()
    except BaseException:
        import_job_delete_files(job)
        raise
    return job


def import_job_delete_files(job: ImportJob) -> None:
    """Remove the stored upload (and the table taken out of a zip): for a job whose creation is rolled back."""
    for file_field in (job.data_file, job.file):
        if file_field and file_field.name:
            with contextlib.suppress(OSError):
                file_field.storage.delete(file_field.name)


def import_job_preview(job: ImportJob, *, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """Headers and the first rows as the current encoding and delimiter read them (for the mapping page)."""
    return readers.preview(_data_path(job), table_info(job), rows=rows)


@transaction.atomic
def import_job_configure(*, job: ImportJob, encoding: str = "", delimiter: str = "") -> ImportJob:
    """Override the detected encoding and/or delimiter of a text file; the headers are read again."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
        raise Conflict(MSG_NOT_MAPPABLE.format(pk=job.pk, status=job.get_status_display()), code="status")
    if encoding and encoding not in readers.ENCODINGS:
        raise ValidationError.single("encoding", MSG_ENCODING.format(value=encoding))
    if delimiter and delimiter not in readers.DELIMITERS:
        raise ValidationError.single("delimiter", MSG_DELIMITER.format(value=delimiter))
    if job.file_format != "csv":
        return job
    if encoding:
        readers.decode_check(_data_path(job), encoding)
    job.encoding = "" if encoding == job.detected_encoding else encoding
    job.delimiter = "" if delimiter == job.detected_delimiter else delimiter
    headers, sample = import_job_preview(job)
    if headers != job.headers:
        job.headers = headers
        definitions = custom_attribute_definitions(job.realm)
        job.mapping = mapping_rules.suggest_mapping(headers, sample, definitions, _saved_mapping(job.realm, headers))
    job.status = ImportStatus.UPLOADED
    job.analysis = {}
    job.save()
    return job


@transaction.atomic
def import_job_map(*, job: ImportJob, mapping: list[dict[str, Any]]) -> ImportJob:
    """Set the column mapping (one entry per column) and remember it for files with the same headers."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
        raise Conflict(MSG_NOT_MAPPABLE.format(pk=job.pk, status=job.get_status_display()), code="status")
    job.mapping = mapping_rules.clean_mapping(mapping, job.headers, custom_attribute_definitions(job.realm))
    if job.status == ImportStatus.ANALYZED:
        job.status = ImportStatus.UPLOADED
        job.analysis = {}
    job.save(update_fields=["mapping", "status", "analysis"])
    SavedMapping.objects.update_or_create(
        realm=job.realm,
        header_key=mapping_rules.header_key(job.headers),
        defaults={
            "headers": job.headers,
            "mapping": {
                mapping_rules.normalize_header(entry["header"]): {"field": entry["field"], "country": entry["country"]}
                for entry in job.mapping
            },
        },
    )
    return job


# ------------------------------------------------------------------------------------------- analysis


@transaction.atomic
def import_job_request_analysis(*, job: ImportJob) -> ImportJob:
    """Queue the analysis (a django-q2 task); the job shows `analyzing` until it is done."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
        raise Conflict(MSG_ALREADY.format(pk=job.pk, status=job.get_status_display()), code="status")
    mapping_rules.clean_mapping(job.mapping, job.headers, custom_attribute_definitions(job.realm))
    job.status = ImportStatus.ANALYZING
    job.error = ""
    job.save(update_fields=["status", "error"])
    transaction.on_commit(lambda: _enqueue("imports.tasks.analyze_import", job.pk))
    return job


def _enqueue(func: str, job_id: int) -> None:
    from django_q.tasks import async_task

    # `sync` is read here rather than from django-q2's import-time Conf, so a test's settings override counts.
    sync = bool(settings.Q_CLUSTER.get("sync", False))
    async_task(func, job_id, task_name=f"{func.rsplit('.', 1)[-1]}-{job_id}", group="imports", sync=sync)


def _delete_staged(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM imports_importrow WHERE job_id = %s", [job_id])


def _issue_rows(job_id: int, kind: str, number: int, cells: list[str], problems: list[Problem]) -> Iterator[tuple]:
    values = json.dumps(cells, ensure_ascii=False)
    for problem in problems:
        yield (job_id, number, kind, problem.column[:255], problem.value, problem.reason, values)


ISSUE_COLUMNS = ["job_id", "row", "kind", "column", "value", "reason", "values"]


@dataclass
class _Analysis:
    """What the analysis keeps per valid row, compactly: 150,000 rows must fit in well under 500 MB.
    Staged data waits in a temporary file until the duplicate groups are known; keys are interned."""

    rows: int = 0
    invalid: int = 0
    numbers: array = field(default_factory=lambda: array("q"))  # row number per valid row
    key_ids: dict[str, int] = field(default_factory=dict)  # key → key id, in order of first appearance
    key_first: array = field(default_factory=lambda: array("q"))  # key id → index of the first row holding it
    row_keys: array = field(default_factory=lambda: array("q"))  # key ids of all rows, back to back
    row_start: array = field(default_factory=lambda: array("q", [0]))  # row index → offset in row_keys
    sample: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, keys: list[str]) -> int:
        index = len(self.numbers) - 1
        for key in keys:
            key_id = self.key_ids.setdefault(key, len(self.key_ids))
            if key_id == len(self.key_first):
                self.key_first.append(index)
            self.row_keys.append(key_id)
        self.row_start.append(len(self.row_keys))
        return index

    def keys_of(self, index: int) -> array:
        return self.row_keys[self.row_start[index] : self.row_start[index + 1]]


def import_job_analyze(*, job: ImportJob) -> ImportJob:
    """Read every row once, validate it with people/validation.py, stage the valid ones (COPY) with their
    duplicate group, store the problems of the invalid ones, and count what each strategy would do.

    One transaction: a failed analysis leaves nothing staged."""
    started = time.monotonic()
    try:
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=job.pk)
            if job.status not in (ImportStatus.ANALYZING, ImportStatus.UPLOADED, ImportStatus.ANALYZED):
                raise Conflict(MSG_ALREADY.format(pk=job.pk, status=job.get_status_display()), code="status")
            _analyze(job, started)
    except DomainError as exc:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.ANALYZING).update(
            status=ImportStatus.UPLOADED, error=exc.message
        )
        raise
    job.refresh_from_db()
    return job


def _analyze(job: ImportJob, started: float) -> None:
    realm = job.realm
    definitions = custom_attribute_definitions(realm)
    mapping_rules.clean_mapping(job.mapping, job.headers, definitions)
    parser = RowParser(job.mapping, definitions, default_country=realm.default_country)
    headers, rows = readers.table_rows(_data_path(job), table_info(job))
    if headers != job.headers:
        raise ValidationError.single("mapping", MSG_HEADERS_CHANGED)
    _delete_staged(job.pk)
    ImportIssue.objects.filter(job=job).delete()
    ImportBatch.objects.filter(job=job).delete()

    result = _Analysis()
    # Staged data waits in a temporary file (not in memory) until the duplicate groups are known.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="\n") as staged_file:

        def issues() -> Iterator[tuple]:
            for number, cells in rows:
                result.rows += 1
                parsed, problems = parser.parse(number, cells)
                if parsed is None:
                    result.invalid += 1
                    for problem in problems:
                        label = f"{problem.column or 'row'}: {QUOTED.sub('…', problem.reason)}"[:120]
                        result.reasons[label] = result.reasons.get(label, 0) + 1
                    yield from _issue_rows(job.pk, IssueKind.INVALID, number, cells, problems)
                    continue
                staged_file.write(json.dumps(parsed.data, ensure_ascii=False))
                staged_file.write("\n")
                result.numbers.append(number)
                result.add(parsed.keys)
                if len(result.sample) < SAMPLE_ROWS:
                    result.sample.append({"row": number, "cells": _display(parsed.data)})

        copy_rows("imports_importissue", ISSUE_COLUMNS, issues())
        count = len(result.numbers)
        # Duplicate groups inside the file: rows sharing a phone, an email or an externalId, transitively.
        groups = _UnionFind(count)
        for index in range(count):
            for key_id in result.keys_of(index):
                holder = result.key_first[key_id]
                if holder != index:
                    groups.union(holder, index)
        roots = array("q", (groups.find(i) for i in range(count)))
        del groups
        staged_file.seek(0)
        numbers = result.numbers
        copy_rows(
            "imports_importrow",
            ["job_id", "row", "grp", "data"],
            ((job.pk, numbers[i], numbers[roots[i]], line.rstrip("\n")) for i, line in enumerate(staged_file)),
        )

    # Existing persons holding any of the keys, and what each strategy would do with them.
    owners = _owners(realm.pk, result.key_ids)
    key_owner = {result.key_ids[key]: person_id for key, person_id in owners.items()}
    group_persons: dict[int, set[int]] = {}
    group_size: dict[int, int] = {}
    matching_rows = 0
    discard = {"created": 0, "discarded": 0}
    for index in range(count):
        root = roots[index]
        group_size[root] = group_size.get(root, 0) + 1
        persons = {key_owner[k] for k in result.keys_of(index) if k in key_owner}
        if persons:
            matching_rows += 1
            group_persons.setdefault(root, set()).update(persons)
        if root == index:
            discard["discarded" if persons else "created"] += 1
        else:
            discard["discarded"] += 1
    # RESOLVE: groups touching the same person become one person too.
    components = _UnionFind(count)
    person_group: dict[int, int] = {}
    for root, persons in group_persons.items():
        for person_id in persons:
            other = person_group.setdefault(person_id, root)
            if other != root:
                components.union(other, root)
    resolve = {"created": 0, "updated": 0, "merged": 0, "persons_merged": 0}
    component_persons: dict[int, set[int]] = {}
    component_rows: dict[int, int] = {}
    for root, size in group_size.items():
        top = components.find(root)
        component_rows[top] = component_rows.get(top, 0) + size
        component_persons.setdefault(top, set()).update(group_persons.get(root, ()))
    for top, size in component_rows.items():
        persons = component_persons[top]
        resolve["updated" if persons else "created"] += 1
        resolve["merged"] += size - 1
        resolve["persons_merged"] += max(len(persons) - 1, 0)

    duplicate_groups = sum(1 for size in group_size.values() if size > 1)
    job.rows_total = result.rows
    job.rows_valid = count
    job.rows_invalid = result.invalid
    job.analysis = {
        "rows": result.rows,
        "valid": count,
        "invalid": result.invalid,
        "invalid_reasons": sorted(result.reasons.items(), key=lambda item: -item[1])[:10],
        "duplicate_groups": duplicate_groups,
        "rows_in_duplicate_groups": sum(size for size in group_size.values() if size > 1),
        "matching_rows": matching_rows,
        "matching_persons": len(set(owners.values())),
        "discard": {**discard, "invalid": result.invalid},
        "resolve": {**resolve, "invalid": result.invalid},
        "sample": result.sample,
        "mapping": job.mapping,
        "seconds": round(time.monotonic() - started, 2),
    }
    job.status = ImportStatus.ANALYZED
    job.analyzed_at = timezone.now()
    job.error = ""
    job.save()


def _display(data: dict[str, Any]) -> list[list[Any]]:
    """A staged row as [API field name, value] pairs in the mapping's field order (jsonb would reorder a dict)."""
    cells: list[list[Any]] = [[API_NAME.get(k, k), v] for k, v in data.get("a", {}).items()]
    for key, name in (("p", "phone"), ("e", "email"), ("t", "tags")):
        if data.get(key):
            cells.append([name, ", ".join(data[key])])
    cells += [[f"{mapping_rules.CUSTOM_PREFIX}{name}", value] for name, value in data.get("c", {}).items()]
    if data.get("co"):
        cells.append(["company", data["co"]])
    return cells


# ---------------------------------------------------------------------------------------------- start


def import_tag_name(job: ImportJob) -> str:
    return f"Import {timezone.localdate(job.created):%Y-%m-%d} #{job.pk}"


def _clean_choices(strategy: str, tags: Iterable[str]) -> list[str]:
    """Check the duplicate strategy; the extra tags, cleaned and without repeats (any case)."""
    if strategy not in DuplicateStrategy.values:
        raise ValidationError.single("strategy", MSG_STRATEGY)
    errors = ErrorCollector()
    clean_tags: list[str] = []
    for name in tags:
        clean = _clean_tag_name(name, errors)
        if clean and clean.lower() not in {t.lower() for t in clean_tags}:
            clean_tags.append(clean)
    errors.raise_if_any()
    return clean_tags


@transaction.atomic
def import_job_start(*, job: ImportJob, strategy: str, tags: Iterable[str] = (), enqueue: bool = True) -> ImportJob:
    """Choose the duplicate strategy and extra tags, and queue the import (`enqueue=False`: the caller runs
    `import_job_run` itself, as the command does)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYZED or job.analysis.get("mapping") != job.mapping:
        raise Conflict(MSG_NOT_ANALYZED.format(pk=job.pk), code="not_analyzed")
    clean_tags = _clean_choices(strategy, tags)
    job.strategy = strategy
    job.tags = clean_tags
    job.import_tag = import_tag_name(job)
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["strategy", "tags", "import_tag", "status"])
    if enqueue:
        transaction.on_commit(lambda: _enqueue("imports.tasks.run_import", job.pk))
    return job


@transaction.atomic
def import_job_request_unattended(*, job: ImportJob, strategy: str, tags: Iterable[str] = ()) -> ImportJob:
    """Queue the analysis and then the import itself, with the strategy and tags chosen up front: the path of a
    job nobody watches (the REST API). The task `imports.tasks.analyze_and_start_import` analyzes and starts
    in one transaction (`import_job_analyze_and_start`); the start queues the run as usual."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
        raise Conflict(MSG_ALREADY.format(pk=job.pk, status=job.get_status_display()), code="status")
    mapping_rules.clean_mapping(job.mapping, job.headers, custom_attribute_definitions(job.realm))
    job.tags = _clean_choices(strategy, tags)
    job.strategy = strategy
    job.status = ImportStatus.ANALYZING
    job.error = ""
    job.save(update_fields=["strategy", "tags", "status", "error"])
    transaction.on_commit(lambda: _enqueue("imports.tasks.analyze_and_start_import", job.pk))
    return job


def import_job_analyze_and_start(*, job: ImportJob) -> ImportJob:
    """The unattended job's step: analyze, then start with the strategy and tags it was given, in one
    transaction (a worker lost in between leaves the job `analyzing`, and the task's retry does both again).
    A refused analysis, or any error, fails the job with the reason: nobody is there to map the file again."""
    try:
        with transaction.atomic():
            job = import_job_analyze(job=job)
            return import_job_start(job=job, strategy=job.strategy, tags=job.tags)
    except Exception as exc:
        if isinstance(exc, DomainError):
            error = exc.message
        else:
            log.exception("analysis of import %s failed", job.pk)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.ANALYZING).update(
            status=ImportStatus.FAILED, error=error, finished_at=timezone.now()
        )
        raise


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Ask a queued or running import to stop after its current batch (a queued one stops at once, and so does
    an unattended one still waiting for its analysis)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    # The analysis holds the row's lock until it has finished: `analyzing` seen here means it has not begun.
    if job.status == ImportStatus.QUEUED or (job.status == ImportStatus.ANALYZING and job.strategy):
        job.status = ImportStatus.CANCELLED
        job.finished_at = timezone.now()
        job.cancel_requested = True
        job.save(update_fields=["status", "finished_at", "cancel_requested"])
        _delete_staged(job.pk)
    elif job.status == ImportStatus.RUNNING:
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
    else:
        raise Conflict(
            MSG_NOT_CANCELLABLE.format(pk=job.pk, status=job.get_status_display().split(":")[0].lower()),
            code="status",
        )
    return job


@transaction.atomic
def import_job_resume(*, job: ImportJob) -> ImportJob:
    """Queue a failed import again: it continues after its last committed batch."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.FAILED or not job.strategy:
        raise Conflict(MSG_ALREADY.format(pk=job.pk, status=job.get_status_display()), code="status")
    if job.analyzed_at is None:  # an unattended job whose analysis was refused: nothing is staged
        raise Conflict(MSG_NOT_RESUMABLE.format(pk=job.pk), code="status")
    job.status = ImportStatus.QUEUED
    job.finished_at = None
    job.save(update_fields=["status", "finished_at"])
    transaction.on_commit(lambda: _enqueue("imports.tasks.run_import", job.pk))
    return job


# ------------------------------------------------------------------------------------------------ run


@dataclass
class _Batch:
    number: int
    grp_from: int
    grp_to: int
    rows: int


def _plan_batches(job: ImportJob, after_grp: int, first_number: int) -> list[_Batch]:
    """Whole duplicate groups, in order of their first row, about `batch_rows()` rows each."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT grp, count(*) FROM imports_importrow WHERE job_id = %s AND grp > %s GROUP BY grp ORDER BY grp",
            [job.pk, after_grp],
        )
        sizes = cursor.fetchall()
    size = batch_rows()
    batches: list[_Batch] = []
    current: _Batch | None = None
    for grp, count in sizes:
        if current is None or current.rows >= size:
            current = _Batch(first_number + len(batches), grp, grp, 0)
            batches.append(current)
        current.grp_to = grp
        current.rows += count
    return batches


def import_job_run(*, job: ImportJob) -> ImportJob:
    """Apply the staged rows, one transaction per batch. Safe to run again: committed batches are skipped,
    so a retried or resumed run continues where the last one stopped; a second runner of the same job while
    the first is alive (a lock held by its session) returns at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK, job.pk])
        if not cursor.fetchone()[0]:
            job.refresh_from_db()
            return job
    try:
        return _run(job)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, job.pk])


def _run(job: ImportJob) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED):
            return job
        if job.status == ImportStatus.FAILED and not job.strategy:
            return job
        job.status = ImportStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.attempts += 1
        job.error = ""
        job.save(update_fields=["status", "started_at", "attempts", "error"])
        if job.invalid_count == 0 and job.rows_invalid:
            ImportJob.objects.filter(pk=job.pk).update(invalid_count=job.rows_invalid)
    last = ImportBatch.objects.filter(job=job).order_by("-number").first()
    batches = _plan_batches(job, last.grp_to if last else 0, (last.number + 1) if last else 1)
    context = _RunContext.for_job(job)
    run_started, run_rows = time.monotonic(), 0
    try:
        for batch in batches:
            if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                return _finish(job, ImportStatus.CANCELLED)
            run_rows += _run_batch(job, context, batch)
            elapsed = max(time.monotonic() - run_started, 1e-6)
            ImportJob.objects.filter(pk=job.pk).update(rate=round(run_rows / elapsed, 1))
    except Exception as exc:
        log.exception("import %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    return _finish(job, ImportStatus.SUCCEEDED)


def _finish(job: ImportJob, status: str) -> ImportJob:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
        _delete_staged(job.pk)
    job.refresh_from_db()
    return job


@dataclass
class _RunContext:
    job: ImportJob
    realm: Any
    discard: bool
    tags: list[str]
    companies: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_job(cls, job: ImportJob) -> _RunContext:
        return cls(job=job, realm=job.realm, discard=job.strategy == DuplicateStrategy.DISCARD, tags=list(job.tags))


def _run_batch(job: ImportJob, context: _RunContext, batch: _Batch, *, attempts: int = 3) -> int:
    """One batch in one transaction; a unique violation (someone added the same phone meanwhile) retries."""
    for attempt in range(1, attempts + 1):
        context.companies.clear()  # ids cached by a rolled-back attempt may not exist
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # One import batch per realm at a time: two imports never race for the same new phone.
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REALM_LOCK, context.realm.pk])
                    cursor.execute(
                        "SELECT row, grp, data FROM imports_importrow WHERE job_id = %s AND grp BETWEEN %s AND %s "
                        "ORDER BY grp, row",
                        [job.pk, batch.grp_from, batch.grp_to],
                    )
                    # Django's connection hands jsonb over as text: decode it here, once.
                    staged = [(number, grp, json.loads(data)) for number, grp, data in cursor.fetchall()]
                outcome = _apply_batch(context, staged)
                copy_rows("imports_importissue", ISSUE_COLUMNS, outcome.issue_rows(job.pk))
                counts = outcome.counts
                ImportBatch.objects.create(
                    job=job,
                    number=batch.number,
                    grp_from=batch.grp_from,
                    grp_to=batch.grp_to,
                    rows=_ranges(number for number, _, _ in staged),
                    row_count=len(staged),
                    counts=counts,
                )
                ImportJob.objects.filter(pk=job.pk).update(
                    rows_done=F("rows_done") + len(staged),
                    created_count=F("created_count") + counts["created"],
                    updated_count=F("updated_count") + counts["updated"],
                    unchanged_count=F("unchanged_count") + counts["unchanged"],
                    merged_count=F("merged_count") + counts["merged"],
                    discarded_count=F("discarded_count") + counts["discarded"],
                    invalid_count=F("invalid_count") + counts["invalid"],
                    persons_merged=F("persons_merged") + counts["persons_merged"],
                )
            return len(staged)
        except IntegrityError:
            if attempt == attempts:
                raise
            log.warning("import %s batch %s hit a concurrent change; retrying", job.pk, batch.number)
    return 0


@dataclass
class _Outcome:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("created", "updated", "unchanged", "merged", "discarded", "invalid", "persons_merged"), 0
        )
    )
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, kind, column, reason)

    def issue_rows(self, job_id: int) -> Iterator[tuple]:
        for row, kind, column, reason in self.issues:
            yield (job_id, row, kind, column, "", reason, "[]")


@dataclass(eq=False)  # identity: targets are compared and looked up by object, never by value
class _Target:
    """What one person will look like: a new one (person_id None) or an existing one (after merges)."""

    rows: list[tuple[int, dict[str, Any]]]
    person_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    company_id: int | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tag_ids: set[int] = field(default_factory=set)
    new_phones: list[str] = field(default_factory=list)
    new_emails: list[str] = field(default_factory=list)
    new_tags: list[Any] = field(default_factory=list)
    changed_fields: list[str] = field(default_factory=list)
    absorbed: int = 0  # existing persons merged into this one by the import


def _apply_batch(context: _RunContext, staged: list[tuple[int, int, dict[str, Any]]]) -> _Outcome:
    outcome = _Outcome()
    realm = context.realm
    groups: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for number, grp, data in staged:
        groups.setdefault(grp, []).append((number, data))
    all_keys = {key for rows in groups.values() for _, data in rows for key in row_keys(data)}
    owners = _owners(realm.pk, all_keys)
    if context.discard:
        targets = _discard_targets(groups, owners, outcome)
    else:
        targets = _resolve_targets(context, groups, owners, outcome)
    if targets:
        _write(context, targets, outcome)
    return outcome


def _discard_targets(groups, owners, outcome: _Outcome) -> list[_Target]:
    """DISCARD: the first row of a group becomes a new person unless it matches one; every other row goes."""
    targets = []
    for rows in groups.values():
        first_number = rows[0][0]
        seen: dict[str, int] = {}
        for number, data in rows:
            keys = row_keys(data)
            if number == first_number:
                matched = next((key for key in keys if key in owners), None)
                if matched:
                    outcome.issues.append(
                        (
                            number,
                            IssueKind.DISCARDED,
                            "",
                            MSG_MATCHES_PERSON.format(person_id=owners[matched], key=_describe_key(matched)),
                        )
                    )
                    outcome.counts["discarded"] += 1
                else:
                    targets.append(_Target(rows=[(number, data)]))
                    outcome.counts["created"] += 1
            else:
                shared = next((key for key in keys if key in seen), keys[0])
                outcome.issues.append(
                    (
                        number,
                        IssueKind.DISCARDED,
                        "",
                        MSG_DUPLICATE_OF.format(
                            first=first_number, key=_describe_key(shared), other=seen.get(shared, first_number)
                        ),
                    )
                )
                outcome.counts["discarded"] += 1
            for key in keys:
                seen.setdefault(key, number)
    return targets


def _load_contacts(person_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]], dict[int, set[int]]]:
    phones: dict[int, list[str]] = {pid: [] for pid in person_ids}
    emails: dict[int, list[str]] = {pid: [] for pid in person_ids}
    tags: dict[int, set[int]] = {pid: set() for pid in person_ids}
    if not person_ids:
        return phones, emails, tags
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT person_id, number FROM people_personphone WHERE person_id = ANY(%s) ORDER BY id", [person_ids]
        )
        for pid, number in cursor.fetchall():
            phones[pid].append(number)
        cursor.execute(
            "SELECT person_id, address FROM people_personemail WHERE person_id = ANY(%s) ORDER BY id", [person_ids]
        )
        for pid, address in cursor.fetchall():
            emails[pid].append(address)
        cursor.execute("SELECT person_id, tag_id FROM people_person_tags WHERE person_id = ANY(%s)", [person_ids])
        for pid, tag_id in cursor.fetchall():
            tags[pid].add(tag_id)
    return phones, emails, tags


def _resolve_targets(context: _RunContext, groups, owners, outcome: _Outcome) -> list[_Target]:
    """RESOLVE AUTOMATICALLY: the seed's algorithm. Rows sharing a phone/email/externalId (a group), and
    groups matching the same existing person, become one person; several matching persons are merged first."""
    # Groups that touch the same person are one component.
    components = _UnionFind()
    order = list(groups)
    index_of = {grp: components.add() for grp in order}
    person_first: dict[int, int] = {}
    group_persons: dict[int, set[int]] = {}
    for grp in order:
        persons = {owners[key] for _, data in groups[grp] for key in row_keys(data) if key in owners}
        group_persons[grp] = persons
        for person_id in persons:
            other = person_first.setdefault(person_id, grp)
            if other != grp:
                components.union(index_of[other], index_of[grp])
    merged_rows: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    merged_persons: dict[int, set[int]] = {}
    for grp in order:
        top = order[components.find(index_of[grp])]
        merged_rows.setdefault(top, []).extend(groups[grp])
        merged_persons.setdefault(top, set()).update(group_persons[grp])

    matched = sorted({pid for persons in merged_persons.values() for pid in persons})
    if matched:
        # Lock in id order (as persons_merge does) so concurrent writers wait instead of deadlocking.
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM people_person WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [matched])
    phones, emails, tag_sets = _load_contacts(matched)

    targets: list[_Target] = []
    survivors: dict[int, _Target] = {}
    for top, rows in merged_rows.items():
        rows.sort(key=lambda item: item[0])
        persons = sorted(merged_persons[top])
        numbers = [number for number, _ in rows]
        all_phones = {n for pid in persons for n in phones[pid]} | {n for _, d in rows for n in d.get("p", ())}
        all_emails = {a.lower() for pid in persons for a in emails[pid]}
        all_emails |= {a.lower() for _, d in rows for a in d.get("e", ())}
        overflow = next(
            (kind for kind, values in (("phone", all_phones), ("email", all_emails)) if len(values) > 100), None
        )
        if overflow:
            reason = MSG_CONTACT_LIMIT.format(
                limit=CONTACTS_PER_PERSON_MAX, kind=overflow, rows=ranges_text(_ranges(numbers))
            )
            _invalidate(outcome, numbers, reason)
            continue
        target = _Target(rows=rows)
        if persons:
            survivor_id = persons[0]
            if len(persons) > 1:
                try:
                    survivor_id = _merge_existing(context, persons)
                except DomainError as exc:
                    reason = MSG_MERGE_FAILED.format(ids=", ".join(map(str, persons)), reason=exc.message)
                    _invalidate(outcome, numbers, reason)
                    continue
                outcome.counts["persons_merged"] += len(persons) - 1
                target.absorbed = len(persons) - 1
            target.person_id = survivor_id
            target.phones = [n for pid in persons for n in phones[pid]]
            target.emails = [a for pid in persons for a in emails[pid]]
            target.tag_ids = set().union(*(tag_sets[pid] for pid in persons))
            survivors[survivor_id] = target
        targets.append(target)
        outcome.counts["merged"] += len(rows) - 1
    if survivors:
        _load_attributes(survivors)
    return targets


def _invalidate(outcome: _Outcome, numbers: list[int], reason: str) -> None:
    for number in numbers:
        outcome.issues.append((number, IssueKind.INVALID, "", reason))
    outcome.counts["invalid"] += len(numbers)


def _merge_existing(context: _RunContext, person_ids: list[int]) -> int:
    """Several existing persons match one group: merge them with the merge service, its default choices."""
    persons = list(Person.objects.filter(pk__in=person_ids))
    survivor = default_survivor(persons)
    others = [p for p in persons if p.pk != survivor.pk]
    persons_merge(
        survivor=survivor,
        others=others,
        actor=f"import #{context.job.pk}",
        source="import",
        max_profiles=len(persons),
    )
    return survivor.pk


def _load_attributes(survivors: dict[int, _Target]) -> None:
    columns = [*ATTRIBUTE_FIELDS, "custom_attributes", "company_id"]
    for row in Person.objects.filter(pk__in=list(survivors)).values("id", *columns):
        target = survivors[row["id"]]
        target.attributes = {name: row[name] for name in ATTRIBUTE_FIELDS}
        if target.attributes["birth_date"] is not None:
            target.attributes["birth_date"] = target.attributes["birth_date"].isoformat()
        target.custom = dict(row["custom_attributes"] or {})
        target.company_id = row["company_id"]


def _company_ids(context: _RunContext, names: list[str]) -> dict[str, int]:
    """Company ids by name (any case); a name the realm does not know yet becomes a company, spelled as its
    first row spells it."""
    wanted: dict[str, str] = {}
    for name in names:
        if name.lower() not in context.companies:
            wanted.setdefault(name.lower(), name)
    if wanted:
        for pk, name in (
            Company.objects.annotate(lname=Lower("name"))
            .filter(realm=context.realm, lname__in=list(wanted))
            .values_list("pk", "name")
        ):
            context.companies[name.lower()] = pk
        for key, name in wanted.items():
            if key not in context.companies:
                context.companies[key] = company_create(realm=context.realm, attributes={"name": name}).pk
    return {name: context.companies[name.lower()] for name in names}


def _write(context: _RunContext, targets: list[_Target], outcome: _Outcome) -> None:
    """Fold the rows into each target (later rows win, empty never erases, contacts and tags unioned), then
    write everything that changed in bulk, with one outbox row per created or changed person."""
    realm, job = context.realm, context.job
    tag_names = {name for t in targets for _, d in t.rows for name in d.get("t", ())} | set(context.tags)
    tags = {tag.name.lower(): tag for tag in tags_get_or_create(realm=realm, names=sorted(tag_names))}
    companies = _company_ids(context, [d["co"] for t in targets for _, d in t.rows if d.get("co")])
    extra_tags = [tags[name.lower()] for name in context.tags]

    for target in targets:
        before_attributes = dict(target.attributes)
        before_custom = dict(target.custom)
        before_company = target.company_id
        known_phones = set(target.phones)
        known_emails = {a.lower() for a in target.emails}
        for _, data in target.rows:
            target.attributes.update(data.get("a", {}))
            target.custom.update(data.get("c", {}))
            if data.get("co"):
                target.company_id = companies[data["co"]]
            for number in data.get("p", ()):
                if number not in known_phones:
                    known_phones.add(number)
                    target.new_phones.append(number)
            for address in data.get("e", ()):
                if address.lower() not in known_emails:
                    known_emails.add(address.lower())
                    target.new_emails.append(address)
            for name in data.get("t", ()):
                tag = tags[name.lower()]
                if tag.pk not in target.tag_ids and tag not in target.new_tags:
                    target.new_tags.append(tag)
        for tag in extra_tags:
            if tag.pk not in target.tag_ids and tag not in target.new_tags:
                target.new_tags.append(tag)
        if target.person_id is not None:
            target.changed_fields = [
                name for name in ATTRIBUTE_FIELDS if target.attributes.get(name) != before_attributes.get(name)
            ]
            if target.custom != before_custom:
                target.changed_fields.append("custom_attributes")
            if target.company_id != before_company:
                target.changed_fields.append("company")

    created = [t for t in targets if t.person_id is None]
    changed = [
        t
        for t in targets
        if t.person_id is not None and (t.absorbed or t.changed_fields or t.new_phones or t.new_emails or t.new_tags)
    ]
    outcome.counts["updated"] += len(changed)
    outcome.counts["unchanged"] += len(targets) - len(created) - len(changed)
    if created or changed:
        # The import's own tag marks the persons it created or changed: a re-run that changes nothing adds none.
        import_tag = tags_get_or_create(realm=realm, names=[job.import_tag])[0] if job.import_tag else None
        if import_tag:
            for target in (*created, *changed):
                if import_tag.pk not in target.tag_ids and import_tag not in target.new_tags:
                    target.new_tags.append(import_tag)
    now = timezone.now()
    if created:
        _insert_persons(context, created, now)
        outcome.counts["created"] += 0 if context.discard else len(created)
        outbox_record_many(
            realm=realm, entity=OutboxEntity.PERSON, op=OutboxOp.CREATE, items=[(t.person_id, None) for t in created]
        )
    if changed:
        _update_persons(context, changed, now)
        outbox_record_many(
            realm=realm,
            entity=OutboxEntity.PERSON,
            op=OutboxOp.UPDATE,
            items=[
                (
                    t.person_id,
                    {
                        "fields": t.changed_fields,
                        "added": {"phones": t.new_phones, "emails": t.new_emails, "tags": [x.name for x in t.new_tags]},
                        "removed": {"phones": [], "emails": [], "tags": []},
                    },
                )
                for t in changed
            ],
        )
    targets_with_contacts = [*created, *changed]
    person_bulk.contacts_add(
        realm=realm,
        now=now,
        phones=((t.person_id, n) for t in targets_with_contacts for n in t.new_phones),
        emails=((t.person_id, a) for t in targets_with_contacts for a in t.new_emails),
        tags=((t.person_id, tag.pk) for t in targets_with_contacts for tag in t.new_tags),
    )


def _person_values(target: _Target) -> dict[str, Any]:
    values = {}
    for name in ATTRIBUTE_FIELDS:
        value = target.attributes.get(name)
        values[name] = value if value not in ("", None) else (None if name in NULLABLE else "")
    values["type"] = values["type"] or "CUSTOMER"
    values["custom_attributes"] = target.custom
    values["company_id"] = target.company_id
    return values


def _insert_persons(context: _RunContext, created: list[_Target], now: dt.datetime) -> None:
    realm = context.realm
    sync_status = SyncStatus.PENDING if realm.cdp_enabled else SyncStatus.LOCAL
    ids = person_bulk.persons_insert(
        realm=realm, rows=[_person_values(t) for t in created], now=now, origin=Origin.IMPORT, sync_status=sync_status
    )
    for person_id, target in zip(ids, created, strict=True):
        target.person_id = person_id


UPDATE_FIELDS = (*ATTRIBUTE_FIELDS, "custom_attributes", "company_id")


def _update_persons(context: _RunContext, changed: list[_Target], now: dt.datetime) -> None:
    realm = context.realm
    external_ids = [t.attributes["external_id"] for t in changed if "external_id" in t.changed_fields]
    if external_ids:
        # An alias (absorbed person) may still carry the externalId the file gives its survivor.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE people_person SET external_id = NULL WHERE realm_id = %s AND external_id = ANY(%s) "
                "AND merged_into_id IS NOT NULL",
                [realm.pk, external_ids],
            )
    also: dict[str, Any] = {"modified_from": Origin.IMPORT, "modified": now}
    if realm.cdp_enabled:
        also["sync_status"] = SyncStatus.PENDING
    person_bulk.persons_update(
        rows=[{"id": t.person_id, **_person_values(t)} for t in changed], fields=UPDATE_FIELDS, also=also
    )


# ------------------------------------------------------------------------------------------- notices


def import_job_mark_notified(*, job: ImportJob) -> bool:
    """True exactly once for a finished job: the caller tells the user (an admin message) this time."""
    return bool(
        ImportJob.objects.filter(pk=job.pk, notified_at__isnull=True, status__in=FINISHED_STATUSES).update(
            notified_at=timezone.now()
        )
    )


def import_job_from_path(*, realm, path: Path, **kwargs) -> ImportJob:
    """import_job_create for a file on disk (the command)."""
    with open(path, "rb") as handle:
        return import_job_create(realm=realm, uploaded_file=File(handle, name=path.name), **kwargs)
