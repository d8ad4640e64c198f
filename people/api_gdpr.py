"""GDPR over REST: POST /v1/identities/persons/:id/erase (right to erasure) and GET .../persons/:id/export
(right of access). Both by the person's own id: a merged alias is erased with its survivor (409 naming it), and
exported as part of it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS
from core.api.views import ApiView
from core.errors import NotFound
from people import erasure, selectors
from people.models import Person

TAG = "Persons"
PERSON_ID = OpenApiParameter("person_id", int, OpenApiParameter.PATH)


class ErasureSerializer(serializers.Serializer):
    erased = serializers.IntegerField(help_text="The erased person's id (it answers 404 from now on).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="What was removed, per kind.")
    infobip = serializers.ListField(
        child=serializers.CharField(),
        help_text="How the delete reaches Infobip: `id` (by its Infobip id), `externalId`, `none` (Infobip "
        "never had it) or `unresolved` (it may have it, but nothing but personal data could find it).",
    )

    class Meta:
        ref_name = "PersonErasure"


class PersonDataSerializer(serializers.Serializer):
    exportedAt = serializers.CharField()
    person = serializers.DictField(help_text="As GET /v1/identities/persons/:id.")
    aliases = serializers.ListField(child=serializers.DictField(), help_text="Profiles merged into it.")
    events = serializers.ListField(child=serializers.DictField())
    identities = serializers.ListField(child=serializers.DictField())
    mergeRecords = serializers.ListField(child=serializers.DictField())
    activity = serializers.ListField(child=serializers.DictField())
    infobip = serializers.DictField()
    tracking = serializers.DictField(required=False)

    class Meta:
        ref_name = "PersonData"


def _own_person(realm, person_id: int) -> Person:
    person = Person.objects.filter(realm=realm, pk=person_id).select_related("realm").first()
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return person


class PersonEraseView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Erase a person (GDPR)",
        description="Deletes the person and the profiles merged into it everywhere: contacts, events, merge "
        "records and their snapshots, import rows and issues naming it, stored responses, tracking visitors. "
        "The delete reaches Infobip through the outbox by Infobip id (no personal data waits in the outbox). An "
        "audit row without personal data stays in the person's history. A merged alias is a 409 naming its "
        "survivor.",
        parameters=[PERSON_ID, IDEMPOTENCY_KEY],
        request=None,
        responses={200: ErasureSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Erased",
                value={"erased": 12, "counts": {"persons": 1, "events": 3, "outboxRows": 2}, "infobip": ["id"]},
                response_only=True,
            )
        ],
    )
    def post(self, request, person_id):
        return Response(erasure.person_erase(person=_own_person(self.realm, person_id)))


class PersonDataExportView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Export everything held about a person (GDPR)",
        description="The profile, every event, the profiles merged into it, identities, merge records naming "
        "it, its activity history and tracking data, as one JSON document. The id of a merged alias answers "
        "with its survivor's document.",
        parameters=[PERSON_ID],
        responses={200: PersonDataSerializer, **READ_ERRORS},
    )
    def get(self, request, person_id):
        person, _ = selectors.person_lookup(self.realm, person_id)
        return Response(erasure.person_data_export(person=person))
