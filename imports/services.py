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
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, ErrorCollector, ValidationError
from imports import mapping as mapping_rules
from imports import readers
from imports.analysis import analyze_job, data_path, staged_delete, table_info
from imports.batches import RUN_LOCK, batch_rows, run_job
from imports.grouping import ranges_text
from imports.models import (
    FINISHED_STATUSES,
    DuplicateStrategy,
    ImportJob,
    ImportStatus,
    SavedMapping,
)
from people.services import _clean_tag_name, custom_attribute_definitions

log = logging.getLogger(__name__)

MSG_NOT_MAPPABLE = "Import #{pk} is {status}: its mapping can no longer change."
MSG_NOT_ANALYZED = "Import #{pk} must be analyzed (with its current mapping) before it can start."
MSG_ALREADY = "Import #{pk} is already {status}."
MSG_STRATEGY = "Choose how duplicates are resolved: discard or resolve."
MSG_ENCODING = "{value!r} is not an encoding this import can read."
MSG_DELIMITER = "{value!r} is not a delimiter this import can read (comma, semicolon, tab or pipe)."
MSG_NOT_CANCELLABLE = "Import #{pk} is {status}: only a queued or running import can be cancelled."
MSG_NOT_RESUMABLE = "Import #{pk} failed before its rows were analyzed: there is nothing to resume."


# --------------------------------------------------------------------------------------- upload & map


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
        info = readers.inspect_table(data_path(job), table_name, country=realm.default_country)
        job.file_format, job.sheet_name, job.notes = info.file_format, info.sheet_name, info.notes
        job.detected_encoding, job.detected_delimiter = info.encoding, info.delimiter
        headers, sample = readers.preview(data_path(job), info)
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
    return readers.preview(data_path(job), table_info(job), rows=rows)


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
        readers.decode_check(data_path(job), encoding)
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
def import_job_map(*, job: ImportJob, mapping: list[dict[str, Any]], default_type: str | None = None) -> ImportJob:
    """Set the column mapping (one entry per column) and remember it for files with the same headers;
    ``default_type`` (CUSTOMER, LEAD or "" for none) is the type of rows without one."""
    if default_type is not None and default_type not in ("", "CUSTOMER", "LEAD"):
        raise ValidationError.single("defaultType", "must be CUSTOMER or LEAD")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if default_type is not None:
        job.default_type = default_type
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
        raise Conflict(MSG_NOT_MAPPABLE.format(pk=job.pk, status=job.get_status_display()), code="status")
    job.mapping = mapping_rules.clean_mapping(mapping, job.headers, custom_attribute_definitions(job.realm))
    if job.status == ImportStatus.ANALYZED:
        job.status = ImportStatus.UPLOADED
        job.analysis = {}
    job.save(update_fields=["mapping", "status", "analysis", "default_type"])
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
    name = f"{func.rsplit('.', 1)[-1]}-{job_id}"
    async_task(func, job_id, task_name=name, group="imports", sync=sync, cluster=settings.Q_INTERACTIVE_CLUSTER)


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
            analyze_job(job, started)
    except DomainError as exc:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.ANALYZING).update(
            status=ImportStatus.UPLOADED, error=exc.message
        )
        raise
    job.refresh_from_db()
    return job


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
        staged_delete(job.pk)
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
        return run_job(job)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, job.pk])


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


__all__ = ["batch_rows", "ranges_text", "table_info"]  # read by selectors, reports and tests from here
