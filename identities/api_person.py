"""Taking things away from and adding them to the person of an identity, one at a time or in lists:
.../person/contacts[/{phone|email}/{value}], .../person/tags[/{name}], and the person's events
(GET .../person/events). Every change goes through people.services.person_update (its outbox row carries the
removed sets, so Infobip follows)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api import examples as ex
from core.api.listing import list_envelope, list_params, paginate
from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from core.errors import ErrorCollector, NotFound
from identities.api import PERSON_TAG, identity_with_person, person_identity_response
from identities.serializers import IdentitySerializer
from people import services as person_services
from people.models import PersonEvent
from people.representation import event_as_dict
from people.serializers import (
    ContactsBatchSerializer,
    EventListSerializer,
    TagsBatchSerializer,
    contacts_batch_args,
    tags_batch_args,
)

KIND = OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["phone", "email"])
LAST_CONTACT = OpenApiExample("Last contact", value=ex.LAST_CONTACT_ERROR, response_only=True, status_codes=["400"])
EVENT_ORDER = {"occurredTime": "occurred_time"}


def _update(view: ApiView, identity_id: str, **args) -> Response:
    identity = identity_with_person(view.realm, identity_id)
    person_services.person_update(person=identity.person, default_country=identity.country, **args)
    return person_identity_response(view.realm, identity_id)


def _holds_contact(person, kind: str, value: str, country: str) -> bool:
    errors = ErrorCollector()
    if kind == "phone":
        numbers = person_services._clean_phones([value], country, errors)
        return bool(numbers) and person.phones.filter(number=numbers[0]).exists()
    return person.emails.filter(address__iexact=value.strip()).exists()


class PersonContactView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Add a phone or email to the person",
        description="Already the person's: nothing changes (200). Another person's: 400.",
        parameters=[IDEMPOTENCY_KEY, KIND],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
    )
    def post(self, request, identity_id, kind, value):
        return _update(self, identity_id, **{"phones" if kind == "phone" else "emails": [value]})

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Remove a phone or email from the person",
        description="404 when the person does not have it. The last phone or email of a person without externalId "
        "cannot be removed (400, `last_contact`).",
        parameters=[IDEMPOTENCY_KEY, KIND],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[LAST_CONTACT],
    )
    def delete(self, request, identity_id, kind, value):
        identity = identity_with_person(self.realm, identity_id)
        if not _holds_contact(identity.person, kind, value, identity.country):
            raise NotFound(f"{value[:80]!r} is not a {kind} of the person", code="contact_not_found")
        return _update(self, identity_id, **{"remove_phones" if kind == "phone" else "remove_emails": [value]})


class PersonContactsView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Add and remove phones and emails of the person",
        description="One change: removals first, then additions; at most 100 values per list. Values not held are "
        "ignored on removal. The last contact of a person without externalId cannot be removed (400).",
        parameters=[IDEMPOTENCY_KEY],
        request=ContactsBatchSerializer,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Swap an email", value=ex.CONTACTS_BATCH_REQUEST, request_only=True), LAST_CONTACT],
    )
    def post(self, request, identity_id):
        return _update(self, identity_id, **contacts_batch_args(self.body_object()))


class PersonTagView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Tag the person",
        description="An unknown tag name is created. Already tagged: nothing changes.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
    )
    def post(self, request, identity_id, name):
        return _update(self, identity_id, tags=[name])

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Untag the person",
        description="404 when the person does not carry the tag (names compare case-insensitively).",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
    )
    def delete(self, request, identity_id, name):
        identity = identity_with_person(self.realm, identity_id)
        if not identity.person.tags.filter(name__iexact=name.strip()).exists():
            raise NotFound(f"the person has no tag {name[:80]!r}", code="tag_not_found")
        return _update(self, identity_id, remove_tags=[name])


class PersonTagsView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Add and remove tags of the person",
        description="One change; at most 100 names per list; names not carried are ignored on removal.",
        parameters=[IDEMPOTENCY_KEY],
        request=TagsBatchSerializer,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Retag", value=ex.TAGS_BATCH_REQUEST, request_only=True)],
    )
    def post(self, request, identity_id):
        return _update(self, identity_id, **tags_batch_args(self.body_object()))


def _time_param(query, name: str, errors: ErrorCollector) -> dt.datetime | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors.add(name, f"{raw[:40]!r} is not an ISO 8601 time")
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class PersonEventListView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="List the events of the identity's person",
        description="Newest first. `definitionId` keeps one event definition's; `from` and `to` (ISO 8601, UTC "
        "when no offset; `from` inclusive, `to` exclusive) bound the occurred time.",
        parameters=[
            *list_parameters(list(EVENT_ORDER), "occurredTime:desc"),
            OpenApiParameter("definitionId", OpenApiTypes.STR),
            OpenApiParameter("from", OpenApiTypes.DATETIME),
            OpenApiParameter("to", OpenApiTypes.DATETIME),
        ],
        responses={200: EventListSerializer, **READ_ERRORS},
        examples=[OpenApiExample("Events", value=ex.PERSON_EVENTS_RESPONSE, response_only=True)],
    )
    def get(self, request, identity_id):
        query = request.query_params
        params = list_params(query, order_fields=EVENT_ORDER, default_order="occurredTime:desc")
        errors = ErrorCollector()
        start, end = _time_param(query, "from", errors), _time_param(query, "to", errors)
        errors.raise_if_any()
        identity = identity_with_person(self.realm, identity_id)
        person = identity.person
        events = PersonEvent.objects.filter(realm=self.realm, person=person).select_related("definition")
        if query.get("definitionId"):
            events = events.filter(definition__definition_id=query["definitionId"])
        if start:
            events = events.filter(occurred_time__gte=start)
        if end:
            events = events.filter(occurred_time__lt=end)
        rows, total = paginate(events, params)
        return Response(list_envelope("events", rows, lambda e: event_as_dict(e, person), params, total))
