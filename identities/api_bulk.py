"""Persons in bulk: POST /v1/identities/persons/batch (a 207 with a result per item) and
GET /v1/identities/persons/export (streamed CSV, XLSX or JSON lines). Here rather than in people.api because
an item's `company` is looked up in the realm (companies sit above people)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from core.api import examples as ex
from core.api.exceptions import api_exception_handler
from core.api.schema import FILTER_HELP, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS
from core.api.views import ApiView
from identities.serializers import company_lookup
from people import export
from people.batch import BATCH_MAX, batch_items, persons_batch
from people.representation import person_as_dict
from people.selectors import persons_for_rendering
from people.serializers import PersonSerializer, PersonWriteSerializer

TAG = "Persons"


class BatchItemSerializer(PersonWriteSerializer):
    id = serializers.IntegerField(required=False, help_text="Our id of a person to update; without it: a create.")

    class Meta:
        ref_name = "PersonBatchItem"


class BatchRequestSerializer(serializers.Serializer):
    persons = BatchItemSerializer(many=True, help_text=f"1..{BATCH_MAX} person bodies.")

    class Meta:
        ref_name = "PersonBatchRequest"


class BatchErrorSerializer(serializers.Serializer):
    name = serializers.CharField()
    message = serializers.CharField()
    code = serializers.IntegerField()
    type = serializers.CharField()
    data = serializers.DictField()

    class Meta:
        ref_name = "PersonBatchError"


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `persons`.")
    op = serializers.ChoiceField(["create", "update"])
    status = serializers.IntegerField(help_text="201 created, 200 updated, else the error's status.")
    person = PersonSerializer(required=False, help_text="Written items: the person as it is now.")
    error = BatchErrorSerializer(required=False, help_text="Failed items: the API's error envelope.")


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    failed = serializers.IntegerField()

    class Meta:
        ref_name = "PersonBatchResponse"


class PersonBatchView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Create and update many persons",
        description=f"Up to {BATCH_MAX} person bodies: with `id` an update (PATCH meaning), without a create. Each "
        "item is written whole or not at all, in its own savepoint, so one bad item fails alone. Answers 207 with "
        "a result per item, in order.",
        parameters=[IDEMPOTENCY_KEY],
        request=BatchRequestSerializer,
        responses={207: BatchResponseSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("A create and an update", value=ex.PERSONS_BATCH_REQUEST, request_only=True)],
    )
    def post(self, request):
        items = batch_items(self.body_object())
        outcomes = persons_batch(realm=self.realm, items=items, company_of=company_lookup(self.realm))
        rendered = persons_for_rendering([o.person.pk for o in outcomes if o.error is None])
        results, counts = [], {"created": 0, "updated": 0, "failed": 0}
        for outcome in outcomes:
            result = {"index": outcome.index, "op": outcome.op}
            if outcome.error is not None:
                error = api_exception_handler(outcome.error, {"view": self})
                result.update(status=error.status_code, error=error.data)
                counts["failed"] += 1
            else:
                status = 201 if outcome.op == "create" else 200
                result.update(status=status, person=person_as_dict(rendered[outcome.person.pk]))
                counts["created" if status == 201 else "updated"] += 1
            results.append(result)
        return Response({"results": results, **counts}, status=207)


FORMAT = OpenApiParameter("format", OpenApiTypes.STR, enum=list(export.FORMATS), description="Default: csv.")
FILTER = OpenApiParameter("filter", OpenApiTypes.STR, description=FILTER_HELP)
SEGMENT = OpenApiParameter(
    "segment", OpenApiTypes.INT, description="A saved segment's id: only its persons (with `filter`: both must match)."
)


class _JsonWhateverTheFormat(DefaultContentNegotiation):
    """`?format=` names the export's format here, not DRF's renderer: errors are always the JSON envelope."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PersonExportView(ApiView):
    content_negotiation_class = _JsonWhateverTheFormat

    @extend_schema(
        tags=[TAG],
        summary="Export the filtered persons",
        description="Streams every person of the realm matching `filter` (the persons list's filter) and, when "
        "given, a saved `segment`, ordered by id, read through a server-side cursor in chunks (constant memory "
        "whatever the count). CSV and XLSX cells starting with = + - @ tab or CR are prefixed with ' so "
        "spreadsheets never run them; JSON lines carry one person object per line. The same export as the admin's.",
        parameters=[FILTER, SEGMENT, FORMAT],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, a header row first."),
            (200, export.XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="One sheet."),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="JSON lines."),
            **READ_ERRORS,
        },
    )
    def get(self, request):
        params = request.query_params
        return export.persons_export_response(
            self.realm, params.get("filter"), params.get("format") or "csv", segment=params.get("segment")
        )
