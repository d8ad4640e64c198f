"""Reads of the customer journey for the admin: the funnel per realm and conversions per day."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from core import charts
from identities.models import Realm
from people import selectors as people_selectors
from people.models import Person, PersonType
from tracking.models import Site, Visitor


def funnel_rows(realm_ids: list[int] | None) -> list[dict]:
    """Per realm: anonymous visitors (never identified), leads and customers (active persons)."""
    realms = Realm.objects.order_by("name")
    persons = Person.objects.active()
    visitors = Visitor.objects.filter(person__isnull=True)
    if realm_ids is not None:
        realms, persons, visitors = (q.filter(**{key: realm_ids}) for q, key in (
            (realms, "pk__in"), (persons, "realm_id__in"), (visitors, "realm_id__in")))  # fmt: skip
    by_type = {
        row["realm_id"]: row
        for row in persons.values("realm_id")
        .annotate(
            leads=Count("pk", filter=Q(type=PersonType.LEAD)), customers=Count("pk", filter=Q(type=PersonType.CUSTOMER))
        )
        .order_by()
    }
    anonymous = dict(visitors.values_list("realm_id").annotate(n=Count("pk")).order_by())
    return [
        {
            "realm": realm,
            "visitors": anonymous.get(realm.pk, 0),
            "leads": by_type.get(realm.pk, {}).get("leads", 0),
            "customers": by_type.get(realm.pk, {}).get("customers", 0),
        }
        for realm in realms
    ]


def conversions_per_day(realm_ids: list[int] | None, days: int = 30) -> list[tuple[str, int]]:
    """Leads that became Customers, per day of the last `days` days (``Person.converted_at``)."""
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    qs = Person.objects.filter(converted_at__gte=start)
    if realm_ids is not None:
        qs = qs.filter(realm_id__in=realm_ids)
    counts = dict(qs.annotate(day=TruncDate("converted_at")).values_list("day").annotate(n=Count("pk")).order_by())
    return [
        ((since + dt.timedelta(days=i)).strftime("%b %d"), counts.get(since + dt.timedelta(days=i), 0))
        for i in range(days)
    ]


def funnel_card(realm_ids: list[int] | None) -> dict:
    """The dashboard card's context (templates/admin/people/funnel_card.html)."""
    per_day = conversions_per_day(realm_ids)
    return {
        "rows": funnel_rows(realm_ids),
        "conversions_chart": charts.bar_chart(per_day, label="Leads converted to customers per day, last 30 days"),
        "conversions_last_30": sum(n for _, n in per_day),
    }


def persons_matching_locked(realm, external_id: str | None, emails: list[str], phones: list[str]) -> list[Person]:
    """Active persons holding the externalId or any of the (normalized) contacts, locked FOR UPDATE, oldest
    first; a merged alias counts as its survivor."""
    ids = set(people_selectors.persons_by_contacts(realm, phones, emails))
    if external_id:
        ids |= set(Person.objects.filter(realm=realm, external_id=external_id).values_list("pk", flat=True))
    resolved: list[Person] = []
    for person in Person.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        target = person if person.merged_into_id is None else person.merged_into
        if target not in resolved:
            resolved.append(target)
    return resolved


def person_website_activity(person: Person, limit: int = 50) -> dict:
    """The person's tracked website events, newest first (at most ``limit``), with the total and its visitors:
    two queries, served by the (person, occurred_at) index."""
    from django.urls import reverse
    from django.utils.http import urlencode

    from tracking.models import TrackEvent

    events = list(
        TrackEvent.objects.filter(person=person)
        .select_related("visitor", "session")
        .order_by("-occurred_at", "-id")[:limit]
    )
    total = len(events) if len(events) < limit else TrackEvent.objects.filter(person=person).count()
    link = reverse("admin:tracking_trackevent_changelist") + "?" + urlencode({"person__id__exact": person.pk})
    return {"events": events, "total": total, "link": link}


_SITES: dict[str, tuple[float, Site]] = {}
SITES_CACHED_MAX = 1000


def site_for_key(key: str) -> Site | None:
    """The active site of a key, trusted for ``TRACKING_SITE_CACHE_SECONDS`` (5) per process: a deactivated or
    deleted site is refused by this process at most that long after (unknown keys are always looked up)."""
    ttl = getattr(settings, "TRACKING_SITE_CACHE_SECONDS", 5)
    now = time.monotonic()
    hit = _SITES.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    site = Site.objects.select_related("realm").filter(key=key, active=True).first()
    if site is None:
        _SITES.pop(key, None)
    elif ttl > 0:
        if len(_SITES) >= SITES_CACHED_MAX:
            _SITES.clear()
        _SITES[key] = (now + ttl, site)
    return site


def site_cache_forget(sender=None, instance=None, **kwargs) -> None:
    """A saved or deleted site is looked up again by this process (post_save/post_delete, tracking.apps)."""
    if instance is not None:
        _SITES.pop(instance.key, None)
