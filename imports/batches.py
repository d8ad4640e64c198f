"""Running an import: batches of whole duplicate groups, one transaction each (the batch's persons, contacts,
tags, merges, outbox rows, its ``ImportBatch`` row and the job's counters commit together), resumable.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.bulk import copy_rows, statistics_refresh
from imports import apply
from imports.analysis import ISSUE_COLUMNS, staged_delete
from imports.apply import RunContext
from imports.grouping import row_ranges
from imports.models import (
    ImportBatch,
    ImportJob,
    ImportStatus,
)
from people.bulk import PERSON_TABLES

log = logging.getLogger(__name__)
APPLY_TABLES = (*PERSON_TABLES, "infobip_outboxentry", "imports_importissue", "imports_importbatch")
RUN_LOCK, REALM_LOCK = 81_002, 81_001  # advisory lock namespaces: one runner per job, one batch per realm


def batch_rows() -> int:
    return settings.IMPORT_BATCH_ROWS


@dataclass
class Batch:
    number: int
    grp_from: int
    grp_to: int
    rows: int


def plan_batches(job: ImportJob, after_grp: int, first_number: int) -> list[Batch]:
    """Whole duplicate groups, in order of their first row, about `batch_rows()` rows each."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT grp, count(*) FROM imports_importrow WHERE job_id = %s AND grp > %s GROUP BY grp ORDER BY grp",
            [job.pk, after_grp],
        )
        sizes = cursor.fetchall()
    size = batch_rows()
    batches: list[Batch] = []
    current: Batch | None = None
    for grp, count in sizes:
        if current is None or current.rows >= size:
            current = Batch(first_number + len(batches), grp, grp, 0)
            batches.append(current)
        current.grp_to = grp
        current.rows += count
    return batches


def run_job(job: ImportJob) -> ImportJob:
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
    batches = plan_batches(job, last.grp_to if last else 0, (last.number + 1) if last else 1)
    context = RunContext.for_job(job)
    run_started, run_rows = time.monotonic(), 0
    try:
        for batch in batches:
            if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                return finish(job, ImportStatus.CANCELLED)
            run_rows += run_batch(job, context, batch)
            statistics_refresh(APPLY_TABLES)  # after the first batch into a new database, then as the tables grow
            elapsed = max(time.monotonic() - run_started, 1e-6)
            ImportJob.objects.filter(pk=job.pk).update(rate=round(run_rows / elapsed, 1))
    except Exception as exc:
        log.exception("import %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    return finish(job, ImportStatus.SUCCEEDED)


def finish(job: ImportJob, status: str) -> ImportJob:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
        staged_delete(job.pk)
    job.refresh_from_db()
    return job


def run_batch(job: ImportJob, context: RunContext, batch: Batch, *, attempts: int = 3) -> int:
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
                    # The staged row is JSON text: decoded here, once.
                    staged = [(number, grp, json.loads(data)) for number, grp, data in cursor.fetchall()]
                outcome = apply.apply_batch(context, staged)
                copy_rows("imports_importissue", ISSUE_COLUMNS, outcome.issue_rows(job.pk))
                counts = outcome.counts
                ImportBatch.objects.create(
                    job=job,
                    number=batch.number,
                    grp_from=batch.grp_from,
                    grp_to=batch.grp_to,
                    rows=row_ranges(number for number, _, _ in staged),
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
