"""Selectors behind the admin dashboard. Aggregates are cached briefly: at a million persons a count per
realm is a full index scan, and the dashboard is opened far more often than the numbers change."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from companies.models import Company
from identities.models import Identity, Realm
from imports.models import ImportJob
from infobip.models import OutboxEntry, OutboxStatus, SyncRun
from people.models import Person

CACHE_SECONDS = 60


def _grouped(queryset, realm_ids) -> dict[int, int]:
    if realm_ids is not None:
        queryset = queryset.filter(realm_id__in=realm_ids)
    return dict(queryset.values_list("realm_id").annotate(n=Count("pk")).order_by())


def realm_counts(realm_ids: list[int] | None) -> list[dict]:
    key = f"dashboard:counts:{sorted(realm_ids) if realm_ids is not None else 'all'}"
    rows = cache.get(key)
    if rows is None:
        realms = Realm.objects.all() if realm_ids is None else Realm.objects.filter(pk__in=realm_ids)
        persons = _grouped(Person.objects.active(), realm_ids)
        identities = _grouped(Identity.objects.all(), realm_ids)
        companies = _grouped(Company.objects.all(), realm_ids)
        outbox = defaultdict(dict)
        outbox_qs = OutboxEntry.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD])
        if realm_ids is not None:
            outbox_qs = outbox_qs.filter(realm_id__in=realm_ids)
        for realm_id, status, n in outbox_qs.values_list("realm_id", "status").annotate(n=Count("pk")).order_by():
            outbox[realm_id][status] = n
        rows = [
            {
                "realm": realm,
                "persons": persons.get(realm.pk, 0),
                "identities": identities.get(realm.pk, 0),
                "companies": companies.get(realm.pk, 0),
                "pending": outbox[realm.pk].get(OutboxStatus.PENDING, 0),
                "dead": outbox[realm.pk].get(OutboxStatus.DEAD, 0),
            }
            for realm in realms
        ]
        cache.set(key, rows, CACHE_SECONDS)
    return rows


def persons_added_per_day(realm_ids: list[int] | None, days: int = 30) -> list[tuple[str, int]]:
    key = f"dashboard:perday:{days}:{sorted(realm_ids) if realm_ids is not None else 'all'}"
    points = cache.get(key)
    if points is None:
        today = timezone.localdate()
        since = today - dt.timedelta(days=days - 1)
        start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
        qs = Person.objects.filter(created__gte=start)
        if realm_ids is not None:
            qs = qs.filter(realm_id__in=realm_ids)
        counts = dict(qs.annotate(day=TruncDate("created")).values_list("day").annotate(n=Count("pk")).order_by())
        points = [
            ((since + dt.timedelta(days=i)).strftime("%b %d"), counts.get(since + dt.timedelta(days=i), 0))
            for i in range(days)
        ]
        cache.set(key, points, CACHE_SECONDS)
    return points


def latest_changes(realm_ids: list[int] | None, user, limit: int = 10) -> dict:
    persons = Person.objects.active().select_related("realm").order_by("-modified")
    log = LogEntry.objects.select_related("user", "content_type").order_by("-action_time")
    if realm_ids is not None:
        # The admin log has no realm: staff limited to some realms see their own actions only.
        persons = persons.filter(realm_id__in=realm_ids)
        log = log.filter(user=user)
    return {"persons": list(persons[:limit]), "log": list(log[:limit])}


def latest_runs(realm_ids: list[int] | None, limit: int = 5) -> dict:
    """The last imports and sync runs (what staff look for after starting one), and the newest dead letters."""
    imports = ImportJob.objects.select_related("realm").order_by("-created")
    runs = SyncRun.objects.select_related("realm").order_by("-created")
    dead = OutboxEntry.objects.select_related("realm").filter(status=OutboxStatus.DEAD).order_by("-created")
    if realm_ids is not None:
        imports, runs, dead = (qs.filter(realm_id__in=realm_ids) for qs in (imports, runs, dead))
    return {"imports": list(imports[:limit]), "sync_runs": list(runs[:limit]), "dead": list(dead[:limit])}
