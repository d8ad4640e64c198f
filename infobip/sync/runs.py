"""A sync run from its claim to its end: fetch and match each page outside any transaction, commit it in one,
hand over to a successor task when the budget is spent, resume runs whose worker died (docs/sync.md)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.actors import Actor, acting_as
from core.bulk import statistics_refresh
from core.errors import ValidationError
from identities.ids import is_hex24, new_object_id
from identities.models import ApiKey, Identity
from infobip.client import InfobipClient, client_for_realm
from infobip.models import SyncRun, SyncRunStatus
from infobip.sync.matching import OrphanIndex, confirm_links, propose_links
from infobip.sync.page import Page, PageWork
from infobip.sync.params import MAX_ERRORS, MAX_LIMIT, RunParams, SyncCancelled, empty_counts, run_params
from people.bulk import PERSON_TABLES

logger = logging.getLogger(__name__)

PAGE_SIZE = MAX_LIMIT
MIRROR_TABLES = (*PERSON_TABLES, "identities_identity")


def _owner_for(run: SyncRun) -> str:
    if is_hex24(run.owner):
        return run.owner
    owner = run.progress.get("owner") if isinstance(run.progress, dict) else None
    if is_hex24(owner):
        return owner
    key_owner = (
        ApiKey.objects.filter(realm=run.realm, revoked_at__isnull=True)
        .order_by("created")
        .values_list("owner", flat=True)
        .first()
    )
    return key_owner or new_object_id()


def _claim_run(run_id: int, *, resume: bool) -> SyncRun | None:
    stale = dt.timedelta(seconds=float(getattr(settings, "INFOBIP_SYNC_STALE_SECONDS", 300)))
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("realm").filter(pk=run_id).first()
        if run is None:
            logger.warning("sync run %s no longer exists", run_id)
            return None
        if run.status in (SyncRunStatus.SUCCEEDED, SyncRunStatus.CANCELLED):
            return None
        if run.status == SyncRunStatus.FAILED and not resume:
            return None
        if run.status == SyncRunStatus.RUNNING and run.heartbeat_at and now - run.heartbeat_at < stale and not resume:
            return None  # another worker is on it
        other = (
            SyncRun.objects.filter(realm_id=run.realm_id, status=SyncRunStatus.RUNNING, heartbeat_at__gte=now - stale)
            .exclude(pk=run.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if other:
            run.progress = {**run.progress, "waiting_for": other}
            run.save(update_fields=["progress"])
            return None
        progress = dict(run.progress or {})
        progress.pop("waiting_for", None)
        progress.setdefault("owner", _owner_for(run))
        if run.started_at and run.status != SyncRunStatus.QUEUED:
            progress["resumed"] = progress.get("resumed", 0) + 1
        run.progress = progress
        run.status = SyncRunStatus.RUNNING
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.finished_at = None
        if not run.counts:
            run.counts = empty_counts()
        run.save(update_fields=["progress", "status", "started_at", "heartbeat_at", "finished_at", "counts"])
        return run


def _fetch(client: InfobipClient, params: RunParams, page_number: int, *, first: bool) -> Page:
    limit = params.limit if params.bounded else PAGE_SIZE
    page = params.page if params.bounded else page_number
    body = client.list_persons(limit=limit, page=page, filter=params.filter, include_total_count=first)
    return Page(number=page_number, records=list(body.get("persons") or []), total=body.get("totalCount"))


def _add_counts(total: dict[str, dict[str, int]], part: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {step: dict(values) for step, values in (total or {}).items()}
    for step, values in part.items():
        bucket = out.setdefault(step, {})
        for key, value in values.items():
            bucket[key] = bucket.get(key, 0) + value
    return out


def execute_run(
    run_id: int,
    *,
    resume: bool = False,
    after_page: Callable[[int], None] | None = None,
    max_seconds: float | None = None,
) -> SyncRun | None:
    """Run (or resume) sync run ``run_id`` to its end. ``after_page(n)`` is called after page n committed.

    ``max_seconds``: hand the run over to a new task after that long (a task has a timeout; a run of millions
    of persons outlives it): the run stays running, its heartbeat is cleared, and the successor continues."""
    run = _claim_run(run_id, resume=resume)
    if run is None:
        return None
    with acting_as(Actor("sync", str(run.pk), f"Sync run #{run.pk}")):  # the mirror's writes are the run's
        return _execute(run, after_page=after_page, max_seconds=max_seconds)


def _execute(run: SyncRun, *, after_page, max_seconds) -> SyncRun | None:
    realm = run.realm
    try:
        if not realm.cdp_enabled:
            raise ValidationError("The realm's Infobip CDP extension is off: enable it to sync.")
        params = run_params(run)
        client = client_for_realm(realm)
        owner = run.progress["owner"]
        index = OrphanIndex(realm)
        began = time.monotonic()
        while True:
            progress = run.progress
            next_page = int(progress.get("next_page", 1))
            if params.bounded and next_page > 1:
                break
            clock = time.monotonic()
            page = _fetch(client, params, next_page, first=next_page == 1 or "total" not in progress)
            proposals, ambiguous, queries = propose_links(page.records, index)
            verified: dict[tuple[str, str], int] = {}
            for start in range(0, len(queries), 1000):
                for match in client.match_persons(queries[start : start + 1000]):
                    key = (
                        match["type"],
                        str(match["identifier"]).lower() if match["type"] == "EMAIL" else str(match["identifier"]),
                    )
                    verified[key] = int(match["personId"])
            notes = confirm_links(proposals, ambiguous, verified, index)
            fetched = time.monotonic()
            run = _commit_page(run, params, index, owner, page, proposals, ambiguous, notes, fetched - clock)
            statistics_refresh(MIRROR_TABLES)  # after the first page of an empty mirror, then as it doubles
            if after_page is not None:
                after_page(next_page)
            if params.bounded or len(page.records) < PAGE_SIZE:
                break
            if max_seconds is not None and time.monotonic() - began > max_seconds:
                _hand_over(run)  # at least one page per task: a run always moves on
                return SyncRun.objects.get(pk=run.pk)
        with transaction.atomic():
            run = SyncRun.objects.select_for_update().get(pk=run.pk)
            counts = run.counts
            counts.setdefault("step1", {})["unmatched"] = Identity.objects.filter(
                realm=realm, person__isnull=True
            ).count()
            run.counts = counts
            run.status = SyncRunStatus.SUCCEEDED
            run.step = 3
            run.finished_at = timezone.now()
            run.heartbeat_at = run.finished_at
            run.progress = {**run.progress, "phase": "done"}
            run.save()
        return run
    except SyncCancelled:
        return SyncRun.objects.get(pk=run.pk)
    except Exception as exc:
        logger.exception("sync run %s failed", run.pk)
        with transaction.atomic():
            failed = SyncRun.objects.select_for_update().get(pk=run.pk)
            failed.status = SyncRunStatus.FAILED
            failed.finished_at = timezone.now()
            message = exc.message if isinstance(exc, ValidationError) else str(exc) or repr(exc)
            failed.errors = [*failed.errors, {"step": "run", "kind": "failed", "message": message}][-MAX_ERRORS:]
            failed.progress = {**failed.progress, "phase": "failed"}
            failed.save()
        return failed


def _hand_over(run: SyncRun) -> None:
    """Let a fresh task continue the run at its cursor (see ``max_seconds``)."""
    SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(
        heartbeat_at=None, progress={**run.progress, "phase": "handed over to the next task"}
    )
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "infobip.tasks.sync_run_execute",
            run.pk,
            task_name=f"sync-run-{run.pk}-continued",
            cluster=settings.Q_INTERACTIVE_CLUSTER,
        )
    )


def _commit_page(
    run: SyncRun,
    params: RunParams,
    index: OrphanIndex,
    owner: str,
    page: Page,
    proposals: dict,
    ambiguous: dict,
    notes: list[dict[str, Any]],
    fetch_seconds: float,
) -> SyncRun:
    clock = time.monotonic()
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().select_related("realm").get(pk=run.pk)
        if locked.status == SyncRunStatus.CANCELLED:
            raise SyncCancelled
        if int(locked.progress.get("next_page", 1)) != page.number or locked.status != SyncRunStatus.RUNNING:
            raise RuntimeError(f"sync run {run.pk} moved on elsewhere (page {page.number}); this worker stops")
        work = PageWork(locked, params, index, owner)
        work.errors.extend(notes)
        for note in notes:
            if note["kind"] == "stronger_match_elsewhere":
                work.excluded.add(note["infobipIds"][0])
        work.pull(page.records)
        work.step1(page, proposals, ambiguous)
        rest = work.step2()
        work.step3(rest)
        work.save()
        progress = dict(locked.progress)
        timings = dict(progress.get("timings") or {})
        timings["fetch_s"] = round(timings.get("fetch_s", 0) + fetch_seconds, 3)
        timings["write_s"] = round(timings.get("write_s", 0) + time.monotonic() - clock, 3)
        progress.update(
            {
                "phase": f"page {page.number} done",
                "next_page": page.number + 1,
                "pages_done": int(progress.get("pages_done", 0)) + 1,
                "persons_seen": int(progress.get("persons_seen", 0)) + len(page.records),
                "page_size": params.limit if params.bounded else PAGE_SIZE,
                "timings": timings,
            }
        )
        if page.total is not None:
            progress["total"] = min(page.total, params.limit) if params.bounded else page.total
        locked.progress = progress
        locked.counts = _add_counts(locked.counts, work.counts)
        locked.errors = [*locked.errors, *work.errors][-MAX_ERRORS:]
        locked.step = 3
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["progress", "counts", "errors", "step", "heartbeat_at"])
        return locked


def sync_runs_resume_stale() -> list[int]:
    """Queue again runs whose worker died (running without heartbeat) or whose task never came (queued long)."""
    stale = dt.timedelta(seconds=float(getattr(settings, "INFOBIP_SYNC_STALE_SECONDS", 300)))
    now = timezone.now()
    ids = list(
        SyncRun.objects.filter(status=SyncRunStatus.RUNNING, heartbeat_at__lt=now - stale).values_list("pk", flat=True)
    )
    ids += list(
        SyncRun.objects.filter(status=SyncRunStatus.QUEUED, created__lt=now - dt.timedelta(minutes=2)).values_list(
            "pk", flat=True
        )
    )
    if ids:
        from django_q.tasks import async_task

        for run_id in ids:
            async_task(
                "infobip.tasks.sync_run_execute",
                run_id,
                task_name=f"sync-run-{run_id}-resume",
                cluster=settings.Q_INTERACTIVE_CLUSTER,
            )
    return ids
