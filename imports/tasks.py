"""django-q2 entry points: take a job id, reload the row, check its status, call the service. All are safe to
run twice (the analysis only runs for a job that is `analyzing`; the import skips committed batches)."""

from __future__ import annotations

import logging

from core.errors import DomainError
from imports import services
from imports.models import ImportJob, ImportStatus

log = logging.getLogger(__name__)


def analyze_import(job_id: int) -> str:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != ImportStatus.ANALYZING:
        return "skipped"
    try:
        services.import_job_analyze(job=job)
    except DomainError as exc:
        # Recorded on the job (status back to uploaded, with the reason): the user fixes the mapping or file.
        log.info("analysis of import %s refused: %s", job_id, exc.message)
        return "refused"
    return "analyzed"


def run_import(job_id: int) -> str:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return "skipped"
    return services.import_job_run(job=job).status


def analyze_and_start_import(job_id: int) -> str:
    """The unattended chain (the REST API's jobs): analyze, then start with the strategy chosen up front,
    which queues `run_import`."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != ImportStatus.ANALYZING or not job.strategy:
        return "skipped"
    try:
        services.import_job_analyze_and_start(job=job)
    except DomainError as exc:
        # Recorded on the job (failed, with the reason).
        log.info("unattended import %s refused: %s", job_id, exc.message)
        return "refused"
    return "started"
