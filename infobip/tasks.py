"""django-q2 entry points of the Infobip integration: take ids, reload rows, check status, act; safe to run twice."""

from __future__ import annotations

import logging

from django.conf import settings

from infobip import sync
from infobip.outbox import engine
from infobip.outbox.recording import enqueue_drain, wakeup_clear

log = logging.getLogger(__name__)


def drain_outbox() -> dict:
    """Deliver due outbox rows until none is left or the time budget is spent (then queue a successor)."""
    wakeup_clear()  # from now on a commit queues the next drain: nothing committed after this start waits
    report = engine.drain(max_seconds=float(getattr(settings, "INFOBIP_OUTBOX_TASK_SECONDS", 240)))
    if report.more:
        enqueue_drain()
    return {"rounds": report.rounds, "entries": report.entries, "outcomes": dict(report.outcomes)}


def outbox_tick() -> dict:
    """The minute schedule: the safety net for lost wake-ups and crashed sync runs; old delivered rows go."""
    resumed = sync.sync_runs_resume_stale()
    purged = engine.purge_delivered()
    result = drain_outbox()
    return {**result, "resumed_sync_runs": resumed, "purged": purged}


def sync_run_execute(run_id: int) -> None:
    """Run (or, after a crash, resume) the three-step two-way sync of `run_id` (infobip.sync)."""
    run = sync.execute_run(run_id, max_seconds=float(getattr(settings, "INFOBIP_SYNC_TASK_SECONDS", 600)))
    if run is not None:
        log.info("sync run %s: %s", run.pk, run.status)


def sync_run_resume(run_id: int) -> None:
    """Staff asked to resume a failed or stalled run: continue at its cursor."""
    run = sync.execute_run(run_id, resume=True, max_seconds=float(getattr(settings, "INFOBIP_SYNC_TASK_SECONDS", 600)))
    if run is not None:
        log.info("sync run %s resumed: %s", run.pk, run.status)
