"""Reads behind the Infobip admin screens: the outbox per realm, its throughput, a person's push log, a sync
run's live progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from identities.models import Realm
from infobip.models import OutboxAttempt, OutboxEntity, OutboxEntry, OutboxStatus, SyncRun


def outbox_overview(realm_ids: list[int] | None) -> list[dict[str, Any]]:
    """Per realm: the backlog (due now, backing off, in flight), dead letters, deliveries of the last day."""
    now = timezone.now()
    day_ago = now - dt.timedelta(hours=24)
    realms = Realm.objects.all() if realm_ids is None else Realm.objects.filter(pk__in=realm_ids)
    rows = OutboxEntry.objects.filter(
        Q(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]) | Q(processed_at__gte=day_ago)
    )
    if realm_ids is not None:
        rows = rows.filter(realm_id__in=realm_ids)
    pending = Q(status=OutboxStatus.PENDING)
    stats = {
        row["realm_id"]: row
        for row in rows.values("realm_id")
        .annotate(
            pending=Count("id", filter=pending),
            due=Count(
                "id",
                filter=pending & Q(next_attempt_at__lte=now) & (Q(locked_until__isnull=True) | Q(locked_until__lt=now)),
            ),
            backing_off=Count("id", filter=pending & Q(next_attempt_at__gt=now)),
            in_flight=Count("id", filter=pending & Q(locked_until__gte=now)),
            dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
            done_24h=Count("id", filter=Q(status=OutboxStatus.DONE, processed_at__gte=day_ago)),
            skipped_24h=Count("id", filter=Q(status=OutboxStatus.SKIPPED, processed_at__gte=day_ago)),
            oldest=Min("created", filter=pending),
        )
        .order_by()
    }
    out = []
    for realm in realms:
        row = stats.get(realm.pk, {})
        oldest = row.get("oldest")
        out.append(
            {
                "realm": realm,
                "pending": row.get("pending", 0),
                "due": row.get("due", 0),
                "backing_off": row.get("backing_off", 0),
                "in_flight": row.get("in_flight", 0),
                "dead": row.get("dead", 0),
                "done_24h": row.get("done_24h", 0),
                "skipped_24h": row.get("skipped_24h", 0),
                "oldest_age": (now - oldest) if oldest else None,
            }
        )
    return out


def outbox_throughput(realm_ids: list[int] | None, hours: int = 24) -> list[tuple[str, list[int]]]:
    """Per hour of the last ``hours``: changes delivered and failed calls (for a stacked bar chart)."""
    now = timezone.now()
    start = (now - dt.timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    delivered = OutboxEntry.objects.filter(status=OutboxStatus.DONE, processed_at__gte=start)
    failed = OutboxAttempt.objects.filter(ok=False, started_at__gte=start)
    if realm_ids is not None:
        delivered = delivered.filter(realm_id__in=realm_ids)
        failed = failed.filter(entry__realm_id__in=realm_ids)
    done = dict(
        delivered.annotate(hour=TruncHour("processed_at")).values_list("hour").annotate(n=Count("id")).order_by()
    )
    bad = dict(failed.annotate(hour=TruncHour("started_at")).values_list("hour").annotate(n=Count("id")).order_by())
    points = []
    for i in range(hours):
        hour = start + dt.timedelta(hours=i)
        points.append((hour.strftime("%H:00"), [done.get(hour, 0), bad.get(hour, 0)]))
    return points


def person_push_log(person_id: int, *, entries: int = 10, attempts: int = 10) -> dict[str, Any]:
    """A person's latest outbox rows and the latest calls made for them."""
    rows = list(
        OutboxEntry.objects.filter(entity=OutboxEntity.PERSON, entity_id=str(person_id)).order_by("-id")[:entries]
    )
    calls = list(
        OutboxAttempt.objects.filter(entry__entity=OutboxEntity.PERSON, entry__entity_id=str(person_id))
        .select_related("entry")
        .order_by("-started_at")[:attempts]
    )
    return {"entries": rows, "attempts": calls}


def sync_run_progress(run: SyncRun) -> dict[str, Any]:
    """What the live progress view polls."""
    progress = run.progress or {}
    total = progress.get("total")
    seen = progress.get("persons_seen", 0)
    percent = None
    if run.status == "succeeded":
        percent = 100
    elif total:
        percent = min(100, round(100 * seen / total))
    return {
        "id": run.pk,
        "status": run.status,
        "statusLabel": run.get_status_display(),
        "step": run.step,
        "phase": progress.get("phase", ""),
        "pagesDone": progress.get("pages_done", 0),
        "personsSeen": seen,
        "total": total,
        "percent": percent,
        "counts": run.counts or {},
        "errorCount": len(run.errors or []),
        "lastErrors": (run.errors or [])[-5:],
        "timings": progress.get("timings", {}),
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "heartbeatAt": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
        "finished": run.status in ("succeeded", "failed", "cancelled"),
    }
