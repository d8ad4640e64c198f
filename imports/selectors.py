"""Reads of import jobs: progress for the live bar, issues for the job page, history for a user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound
from imports.models import ImportBatch, ImportIssue, ImportJob, ImportStatus
from imports.progress import analysis_progress
from imports.services import ranges_text

# What a list of jobs never reads: per-column and per-analysis detail, kilobytes a row.
LIST_DEFERRED = ("analysis", "mapping", "headers", "notes")


def import_jobs(realm) -> QuerySet[ImportJob]:
    """The realm's jobs without their bulky columns (enough for `import_job_progress` and the API's resource)."""
    return ImportJob.objects.filter(realm=realm).defer(*LIST_DEFERRED)


def import_job_get(realm, job_id: int) -> ImportJob:
    """A job of the realm; another realm's job is as unknown as a missing one."""
    job = ImportJob.objects.filter(realm=realm, pk=job_id).first()
    if job is None:
        raise NotFound(f"import {job_id} does not exist")
    return job


def import_job_progress(job: ImportJob) -> dict[str, Any]:
    """What the live progress bar shows: rows done / total, rate, time left, counts."""
    total = job.rows_valid or 0
    done = min(job.rows_done, total) if total else job.rows_done
    rate = job.rate or 0.0
    if job.status == ImportStatus.RUNNING and not rate and job.started_at and done:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate and total > done else 0
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "finished": job.is_finished,
        "rows_done": done,
        "rows_total": total,
        "percent": round(100 * done / total, 1) if total else (100.0 if job.is_finished else 0.0),
        "rate": round(rate, 1),
        "seconds_left": round(left),
        "cancel_requested": job.cancel_requested,
        # Running, but another import of the realm runs first: its id (None while that one is not known).
        "waiting": job.status == ImportStatus.RUNNING and job.waiting,
        "waiting_for": waiting_for(job),
        "counts": job.counts(),
        "error": job.error,
        # While the analysis runs: rows read of about how many, and its phase (None before it starts).
        "analysis": analysis_progress(job.pk) if job.status == ImportStatus.ANALYZING else None,
    }


def waiting_for(job: ImportJob) -> int | None:
    """The import of the same realm a waiting job waits for: the running one that is not waiting itself."""
    if job.status != ImportStatus.RUNNING or not job.waiting:
        return None
    others = ImportJob.objects.filter(realm_id=job.realm_id, status=ImportStatus.RUNNING, waiting=False)
    return others.exclude(pk=job.pk).order_by("started_at", "pk").values_list("pk", flat=True).first()


def applied_rows(job: ImportJob) -> tuple[int, str]:
    """How many rows the committed batches hold, and which (as ranges of row numbers)."""
    ranges: list[list[int]] = []
    count = 0
    for rows, row_count in ImportBatch.objects.filter(job=job).values_list("rows", "row_count"):
        ranges.extend(rows)
        count += row_count
    ranges.sort()
    merged: list[list[int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return count, ranges_text(merged)


def issues_page(job: ImportJob, limit: int = 50) -> list[ImportIssue]:
    return list(ImportIssue.objects.filter(job=job).order_by("row", "id")[:limit])
