"""Fixtures of the push and sync tests: settings pointed at the in-process sandbox, fast backoff, a drain loop."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from infobip import push
from infobip.models import OutboxEntry, OutboxStatus


@pytest.fixture
def push_settings(infobip_settings):
    """Client and outbox timings for tests: retries and backoff in milliseconds, nothing queued on commit."""
    s = infobip_settings
    s.INFOBIP_MAX_RETRIES = 3
    s.INFOBIP_BACKOFF = 0.002
    s.INFOBIP_BACKOFF_CAP = 0.01
    s.INFOBIP_OUTBOX_BACKOFF_BASE = 0.01
    s.INFOBIP_OUTBOX_BACKOFF_CAP = 0.05
    s.INFOBIP_OUTBOX_MAX_ATTEMPTS = 8
    s.INFOBIP_OUTBOX_BATCH_MIN = 5
    s.INFOBIP_OUTBOX_AUTODRAIN = False
    return s


def drain_all(*, timeout: float = 60.0, **options) -> push.DrainReport:
    """Drain until nothing is left to claim, sleeping through backoffs; returns the summed report.

    Rows that are due but cannot be claimed (blocked behind a dead row of their entity) stay pending."""
    total = push.DrainReport()
    deadline = time.monotonic() + timeout
    while True:
        report = push.drain(**options)
        total.rounds += report.rounds
        total.entries += report.entries
        for key, value in report.outcomes.items():
            total.outcomes[key] += value
        waiting = OutboxEntry.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__gt=timezone.now())
        if report.entries == 0 and not waiting.exists():
            return total
        if time.monotonic() > deadline:
            pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count()
            raise AssertionError(f"outbox not drained within {timeout}s: {pending} pending")
        time.sleep(0.01)


def statuses() -> dict[str, int]:
    from django.db.models import Count

    return dict(OutboxEntry.objects.values_list("status").annotate(n=Count("id")).order_by())
