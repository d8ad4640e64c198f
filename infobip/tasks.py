"""django-q2 entry points of the Infobip integration: take ids, reload rows, check status, act; safe to run twice."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from infobip.models import SyncRun, SyncRunStatus

log = logging.getLogger(__name__)


def sync_run_execute(run_id: int) -> None:
    """Run the three-step two-way sync of `run_id`.

    For now it only records that the queued run reached a worker (progress.recorded); the sync itself (steps 1-3
    of the source documents) is built into this task by the Infobip integration. The status stays `queued`.
    """
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            log.warning("sync run %s no longer exists", run_id)
            return
        if run.status != SyncRunStatus.QUEUED or run.progress.get("recorded"):
            return
        run.progress = {**run.progress, "recorded": True, "recordedAt": timezone.now().isoformat()}
        run.save(update_fields=["progress"])
