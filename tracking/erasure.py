"""What the tracking app holds about a person, for people.erasure, and the same for the right of access:

- its visitors (their sessions and events go with them) and any event linked to it;
- the website form submissions it sent, those its visitors sent that no longer name a person, and any other
  submission of the realm's forms whose fields name one of its identifiers (``FormSubmission.data`` keeps every
  field as sent, and its person and visitor links are SET_NULL: without this they would outlive the person).
  Another person's submission sent from one of its visitors (a customer's form is not linked to the browser)
  is that person's: it stays, and only loses its visitor with the visitor;
- its mobile app installations: the push registrations it holds (``people.ChannelProfile`` of channel push,
  tracking.mobile), deleted here rather than left to the person's cascade so the audit row counts them.

Conversation sessions are person events (tracking.conversations): people.erasure removes them with the
person's other events, and they are exported with them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from people.erasure import Erasure
from people.models import Channel, ChannelProfile
from tracking.models import FormSubmission, TrackEvent, Visitor


def _submissions_of(person_ids: list[int]) -> Q:
    """Sent by the persons, or from their visitors by nobody known (the sender's profile was deleted)."""
    return Q(person_id__in=person_ids) | Q(person__isnull=True, visitor__person_id__in=person_ids)


def _submissions_named(erasure: Erasure):
    """The form submissions of the realm of the persons (`_submissions_of`) or naming one of their identifiers."""
    named = _submissions_of(erasure.person_ids)
    submissions = FormSubmission.objects.filter(form__site__realm=erasure.realm)
    mentioning = erasure.like_patterns()
    if mentioning:
        ids = submissions.extra(where=["tracking_formsubmission.data::text ILIKE ANY(%s)"], params=[mentioning])
        named |= Q(pk__in=ids.values("pk"))
    return submissions.filter(named)


def tracking_erase(erasure: Erasure) -> None:
    erasure.count("formSubmissions", FormSubmission.objects.filter(pk__in=_submissions_named(erasure)).delete()[0])
    erasure.count("trackEvents", TrackEvent.objects.filter(person_id__in=erasure.person_ids).delete()[0])
    gone = Visitor.objects.filter(person_id__in=erasure.person_ids).delete()[1]
    erasure.count("visitors", gone.get("tracking.Visitor", 0))
    installations = ChannelProfile.objects.filter(person_id__in=erasure.person_ids, channel=Channel.PUSH)
    erasure.count("mobileInstallations", installations.delete()[0])


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def tracking_export(realm, person_ids: list[int]) -> dict[str, Any]:
    visitors = Visitor.objects.filter(realm=realm, person_id__in=person_ids).order_by("created")
    events = TrackEvent.objects.filter(person_id__in=person_ids).order_by("occurred_at", "id")
    submissions = (
        FormSubmission.objects.filter(form__site__realm=realm)
        .filter(_submissions_of(person_ids))
        .select_related("form", "visitor")
        .order_by("created", "id")
    )
    installations = ChannelProfile.objects.filter(realm=realm, person_id__in=person_ids, channel=Channel.PUSH)
    return {
        "tracking": {
            "visitors": [
                {
                    "anonymousId": v.anonymous_id,
                    "site": v.site_id,
                    "createdAt": v.created.isoformat(),
                    "identifiedAt": _iso(v.identified_at),
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
            "formSubmissions": [
                {
                    "id": s.pk,
                    "form": s.form.slug,
                    "site": s.form.site_id,
                    "visitor": s.visitor.anonymous_id if s.visitor else None,
                    "data": s.data,
                    "outcome": s.outcome,
                    "createdAt": _iso(s.created),
                }
                for s in submissions
            ],
        },
        "mobile": {
            "installations": [
                {
                    "applicationId": i.application_id,
                    "pushRegistrationId": i.identifier,
                    "data": i.data,
                    "createdAt": _iso(i.created),
                    "modifiedAt": _iso(i.modified),
                }
                for i in installations.order_by("created", "id")
            ]
        },
    }
