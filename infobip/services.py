"""Writes of the Infobip integration's workflow rows."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from cdpadmin import iso
from cdpadmin.errors import ErrorCollector, NotFound
from infobip.filters import FilterError, parse_person_filter
from infobip.models import SyncRun

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

    async_task("infobip.tasks.sync_run_execute", run_id, task_name=f"sync-run-{run_id}")


def sync_run_get(realm, run_id: int) -> SyncRun:
    run = SyncRun.objects.filter(realm=realm, pk=run_id).first()
    if run is None:
        raise NotFound(f"sync run {run_id} does not exist")
    return run
