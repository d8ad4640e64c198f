"""What the tracking snippet holds about a person, for people.erasure: its visitors (their sessions and
events go with them) and any event linked to it; and the same for the right of access."""

from __future__ import annotations

from typing import Any

from people.erasure import Erasure
from tracking.models import TrackEvent, Visitor


def tracking_erase(erasure: Erasure) -> None:
    erasure.count("trackEvents", TrackEvent.objects.filter(person_id__in=erasure.person_ids).delete()[0])
    gone = Visitor.objects.filter(person_id__in=erasure.person_ids).delete()[1]
    erasure.count("visitors", gone.get("tracking.Visitor", 0))


def tracking_export(realm, person_ids: list[int]) -> dict[str, Any]:
    visitors = Visitor.objects.filter(realm=realm, person_id__in=person_ids).order_by("created")
    events = TrackEvent.objects.filter(person_id__in=person_ids).order_by("occurred_at", "id")
    return {
        "tracking": {
            "visitors": [
                {
                    "anonymousId": v.anonymous_id,
                    "site": v.site_id,
                    "createdAt": v.created.isoformat(),
                    "identifiedAt": v.identified_at.isoformat() if v.identified_at else None,
                }
                for v in visitors
            ],
            "events": [
                {
                    "kind": e.kind,
                    "name": e.name,
                    "url": e.url,
                    "properties": e.properties,
                    "occurredAt": e.occurred_at.isoformat(),
                }
                for e in events
            ],
        }
    }
