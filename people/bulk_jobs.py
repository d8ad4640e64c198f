"""Staff bulk actions as operations (people/admin_actions.py runs them in the request, or, beyond
BACKGROUND_MIN persons, as a BulkJob in a django-q2 task with a progress page).

An operation takes a queryset of persons and the action's parameters (ids and plain values only, so they can
be stored on a job) and goes through people.batch (the services, one transaction per chunk, outbox rows with
them). A job applies its stored ids CHUNK at a time; each chunk commits together with the job's progress, so a
job run again (a retried task, a lost worker) resumes after the last committed chunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.actors import Actor, acting_as
from core.errors import DomainError
from people import batch
from people.models import BulkJob, BulkJobStatus, Person

BACKGROUND_MIN = 5000  # more persons than this run as a job, not in the request
CHUNK = 1000


def _company(params):
    if not params.get("company"):
        return None
    return Person._meta.get_field("company").related_model.objects.get(pk=params["company"])


OPERATIONS: dict[str, Callable[[Any, dict[str, Any]], int]] = {
    "bulk_add_tag": lambda persons, p: batch.persons_bulk_update(persons=persons, tags=[p["tag"]]),
    "bulk_remove_tag": lambda persons, p: batch.persons_bulk_update(persons=persons, remove_tags=[p["tag"]]),
    "bulk_set_type": lambda persons, p: batch.persons_bulk_update(persons=persons, attributes={"type": p["type"]}),
    "bulk_set_company": lambda persons, p: batch.persons_bulk_update(persons=persons, company=_company(p)),
    "bulk_push_again": lambda persons, p: batch.persons_push_again(persons=persons),
}


def bulk_job_start(*, action: str, params: dict[str, Any], persons, actor: Actor) -> BulkJob:
    """Store the selection (ids, in id order) and queue the job after commit."""
    from django_q.tasks import async_task

    if action not in OPERATIONS:
        raise ValueError(f"{action} is not a bulk operation")
    ids = list(persons.order_by("pk").values_list("pk", flat=True))
    with transaction.atomic():
        job = BulkJob.objects.create(
            action=action, params=params, person_ids=ids, total=len(ids), started_by=actor.label,
            started_by_id=actor.id,
        )  # fmt: skip
        sync = bool(settings.Q_CLUSTER.get("sync", False))
        transaction.on_commit(
            lambda: async_task(
                "people.tasks.bulk_job_run",
                job.pk,
                task_name=f"bulk-job-{job.pk}",
                group="bulk",
                sync=sync,
                cluster=settings.Q_INTERACTIVE_CLUSTER,
            )
        )
    return job


def bulk_job_run(*, job: BulkJob) -> BulkJob:
    """Apply a queued (or interrupted) job from where it stopped; a finished one is left as it is."""
    claimed = BulkJob.objects.filter(pk=job.pk, status__in=[BulkJobStatus.QUEUED, BulkJobStatus.RUNNING]).update(
        status=BulkJobStatus.RUNNING, started_at=timezone.now()
    )
    job.refresh_from_db()
    if not claimed:
        return job
    operation = OPERATIONS[job.action]
    actor = Actor("admin", job.started_by_id, f"{job.started_by} (bulk job #{job.pk})")
    try:
        with acting_as(actor):
            while job.done < job.total:
                chunk = job.person_ids[job.done : job.done + CHUNK]
                with transaction.atomic():
                    operation(Person.objects.filter(pk__in=chunk), job.params)
                    job.done += len(chunk)
                    BulkJob.objects.filter(pk=job.pk).update(done=job.done)
    except DomainError as exc:
        return _finish(job, BulkJobStatus.FAILED, f"Stopped after {job.done} persons: {exc.message}")
    return _finish(job, BulkJobStatus.SUCCEEDED, "")


def _finish(job: BulkJob, status: str, error: str) -> BulkJob:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job
