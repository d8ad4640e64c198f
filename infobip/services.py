"""Writes of the Infobip integration's workflow rows: sync runs (start, resume, cancel) and the outbox's
dead letters (retry, discard)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from core import iso
from core.errors import Conflict, ErrorCollector, NotFound
from infobip.contract.filters import FilterError, parse_person_filter
from infobip.models import OutboxEntity, OutboxEntry, OutboxStatus, SyncRun, SyncRunStatus
from people.models import Person, SyncStatus

SYNC_PARAMS = ("country", "currency", "limit", "page", "filter")
LIMIT_MAX = 1000


def _positive_int(value: Any) -> int | None:
    """100 or "100" → 100; anything else (booleans, fractions, text) → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def clean_sync_params(params: dict[str, Any]) -> dict[str, Any]:
    """Check the optional parameters of POST /v1/identities/persons/sync; keep them as the caller wrote them."""
    errors = ErrorCollector()
    for name in params:
        if name not in SYNC_PARAMS:
            errors.add(name, f"is not a sync parameter; use {', '.join(SYNC_PARAMS)}")
    if "country" in params and not iso.is_country(params["country"]):
        errors.add("country", f"{str(params['country'])[:20]!r} is not an ISO 3166-1 alpha-2 country code")
    if "currency" in params and not iso.is_currency(params["currency"]):
        errors.add("currency", f"{str(params['currency'])[:20]!r} is not an ISO 4217 currency code")
    if "limit" in params:
        limit = _positive_int(params["limit"])
        if limit is None or not 1 <= limit <= LIMIT_MAX:
            errors.add("limit", f"must be an integer between 1 and {LIMIT_MAX}")
    if "page" in params:
        page = _positive_int(params["page"])
        if page is None or not 1 <= page <= 1_000_000_000:
            errors.add("page", "must be an integer from 1")
    if "filter" in params:
        raw = params["filter"]
        try:
            parse_person_filter(raw if isinstance(raw, str | dict) else "")
        except FilterError as exc:
            errors.add("filter", str(exc))
    errors.raise_if_any()
    return {name: params[name] for name in SYNC_PARAMS if name in params}


@transaction.atomic
def sync_run_start(*, realm, owner: str, started_by: str, params: dict[str, Any]) -> SyncRun:
    """Record a two-way sync run and queue it (infobip.tasks.sync_run_execute) once the row is committed."""
    run = SyncRun.objects.create(realm=realm, owner=owner, started_by=started_by, params=clean_sync_params(params))
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from django_q.tasks import async_task  # django-q2 reads its settings on import

    # The interactive cluster: a sync staff started never waits behind the default cluster's push backlog.
    async_task(
        "infobip.tasks.sync_run_execute", run_id, task_name=f"sync-run-{run_id}", cluster=settings.Q_INTERACTIVE_CLUSTER
    )


def sync_run_get(realm, run_id: int) -> SyncRun:
    run = SyncRun.objects.filter(realm=realm, pk=run_id).first()
    if run is None:
        raise NotFound(f"sync run {run_id} does not exist")
    return run


@transaction.atomic
def sync_run_resume(*, run: SyncRun) -> SyncRun:
    """Queue a failed (or stalled) run again; it continues at its cursor, never repeating a finished page."""
    locked = SyncRun.objects.select_for_update().get(pk=run.pk)
    if locked.status not in (SyncRunStatus.FAILED, SyncRunStatus.RUNNING):
        raise Conflict(f"sync run {locked.pk} is {locked.status}: only failed or stalled runs can be resumed")
    transaction.on_commit(lambda: _enqueue_resume(locked.pk))
    return locked


def _enqueue_resume(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "infobip.tasks.sync_run_resume",
        run_id,
        task_name=f"sync-run-{run_id}-resume",
        cluster=settings.Q_INTERACTIVE_CLUSTER,
    )


@transaction.atomic
def sync_run_cancel(*, run: SyncRun) -> SyncRun:
    """Stop a queued or running run: the page in flight is rolled back, finished pages stay."""
    locked = SyncRun.objects.select_for_update().get(pk=run.pk)
    if locked.status not in (SyncRunStatus.QUEUED, SyncRunStatus.RUNNING):
        raise Conflict(f"sync run {locked.pk} is {locked.status} already")
    locked.status = SyncRunStatus.CANCELLED
    locked.finished_at = timezone.now()
    locked.progress = {**locked.progress, "phase": "cancelled"}
    locked.save(update_fields=["status", "finished_at", "progress"])
    return locked


def _mark_entities_pending(entry_ids: list[int]) -> None:
    for model, entity in ((Person, OutboxEntity.PERSON), (Company, OutboxEntity.COMPANY)):
        ids = OutboxEntry.objects.filter(id__in=entry_ids, entity=entity).values_list("entity_id", flat=True)
        model.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()], sync_status=SyncStatus.FAILED).update(
            sync_status=SyncStatus.PENDING
        )


@transaction.atomic
def outbox_retry(*, entries) -> int:
    """Dead (or skipped) rows back to pending, due now, with a fresh attempt budget. Returns how many."""
    ids = [e.pk for e in entries]
    count = OutboxEntry.objects.filter(id__in=ids, status__in=[OutboxStatus.DEAD, OutboxStatus.SKIPPED]).update(
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        locked_until=None,
        locked_by="",
        processed_at=None,
    )
    if count:
        _mark_entities_pending(ids)
        from infobip.outbox import kick_drain

        transaction.on_commit(kick_drain)
    return count


@transaction.atomic
def outbox_discard(*, entries, reason: str) -> int:
    """Dead rows to skipped (staff decided they need not reach Infobip): the entity's later rows go on."""
    ids = [e.pk for e in entries]
    count = OutboxEntry.objects.filter(id__in=ids, status=OutboxStatus.DEAD).update(
        status=OutboxStatus.SKIPPED, last_error=reason[:4000], processed_at=timezone.now()
    )
    if count:
        from infobip.outbox import kick_drain

        transaction.on_commit(kick_drain)
    return count
