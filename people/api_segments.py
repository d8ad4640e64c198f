"""Saved segments over REST: GET/POST /v1/identities/segments (with each segment's live count),
GET/DELETE /v1/identities/segments/:id and GET /v1/identities/segments/:id/persons (paged, as the persons list)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.listing import list_envelope, list_envelope_json, list_params, paginate
from core.api.schema import FILTER_HELP, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from core.errors import ErrorCollector
from people import segments
from people.api import EMPTY_LIST, PERSON_ORDER
from people.models import Segment
from people.representation import persons_json_of_query
from people.serializers import PersonListSerializer

TAG = "Segments"
ORDER = {"name": "name", "createdAt": "created"}
EXAMPLE = {"name": "VIPs in Zagreb", "filter": '{"#and": [{"#contains": {"tags": "VIP"}}, {"city": "Zagreb"}]}'}


class SegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    filter = serializers.CharField(help_text=FILTER_HELP)
    count = serializers.IntegerField(help_text="How many persons match now.")
    createdAt = serializers.CharField()
    modifiedAt = serializers.CharField()

    class Meta:
        ref_name = "Segment"


class SegmentWriteSerializer(serializers.Serializer):
    name = serializers.CharField()
    filter = serializers.CharField(help_text=FILTER_HELP)


class SegmentListSerializer(serializers.Serializer):
    segments = SegmentSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class SegmentPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    filter = serializers.CharField(required=False, help_text=FILTER_HELP)


def _segment_fields(data: dict) -> dict:
    errors = ErrorCollector()
    for key in sorted(set(data) - {"name", "filter"}):
        errors.add(key, "is not a segment field")
    for key in ("name", "filter"):
        if key in data and not isinstance(data[key], str):
            errors.add(key, "must be a string")
    errors.raise_if_any()
    return data


def segment_as_dict(segment: Segment) -> dict:
    return {
        "id": segment.pk,
        "name": segment.name,
        "filter": segment.filter,
        "count": segments.segment_count(segment),
        "createdAt": segment.created.strftime("%Y-%m-%dT%H:%M:%S"),
        "modifiedAt": segment.modified.strftime("%Y-%m-%dT%H:%M:%S"),
    }


class SegmentListView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List saved segments",
        description="Each with its live count (one count per segment of the page).",
        parameters=list_parameters(list(ORDER), "name:asc"),
        responses={200: SegmentListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=ORDER, default_order="name:asc")
        rows, total = paginate(Segment.objects.filter(realm=self.realm).select_related("realm"), params)
        return Response(list_envelope("segments", rows, segment_as_dict, params, total))

    @extend_schema(
        tags=[TAG],
        summary="Save a segment",
        description="The filter must be valid for the persons list (400 saying what is wrong).",
        parameters=[IDEMPOTENCY_KEY],
        request=SegmentWriteSerializer,
        responses={201: SegmentSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("VIPs in Zagreb", value=EXAMPLE, request_only=True)],
    )
    def post(self, request):
        data = _segment_fields(self.body_object())
        segment = segments.segment_create(realm=self.realm, name=data.get("name"), filter_raw=data.get("filter"))
        return Response(segment_as_dict(segment), status=201)


class SegmentDetailView(ApiView):
    @extend_schema(tags=[TAG], summary="Get a segment", responses={200: SegmentSerializer, **READ_ERRORS})
    def get(self, request, segment_id):
        return Response(segment_as_dict(segments.segment_get(self.realm, segment_id)))

    @extend_schema(
        tags=[TAG],
        summary="Change a segment",
        description="Rename it and/or change its filter; fields left out keep their value. The same checks as "
        "saving one (400 saying what is wrong, a name taken in any case is a 400 `conflict`).",
        parameters=[IDEMPOTENCY_KEY],
        request=SegmentPatchSerializer,
        responses={200: SegmentSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Rename", value={"name": "VIPs of Zagreb"}, request_only=True)],
    )
    def patch(self, request, segment_id):
        segment = segments.segment_get(self.realm, segment_id)
        data = _segment_fields(self.body_object())
        updated = segments.segment_update(segment=segment, name=data.get("name"), filter_raw=data.get("filter"))
        return Response(segment_as_dict(updated))

    @extend_schema(
        tags=[TAG],
        summary="Delete a segment",
        description="The persons stay. Answers [].",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: EMPTY_LIST, **WRITE_ERRORS},
    )
    def delete(self, request, segment_id):
        segments.segment_delete(segment=segments.segment_get(self.realm, segment_id))
        return Response([])


class SegmentPersonsView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List a segment's persons",
        description="The persons matching the segment's filter now, paged and rendered as GET /v1/identities/persons.",
        parameters=list_parameters(list(PERSON_ORDER), "id:desc"),
        responses={200: PersonListSerializer, **READ_ERRORS},
    )
    def get(self, request, segment_id):
        segment = segments.segment_get(self.realm, segment_id)
        params = list_params(request.query_params, order_fields=PERSON_ORDER, default_order="id:desc")
        members = segments.segment_persons(segment)
        page = members.order_by(*params.ordering).values_list("pk", flat=True)
        rows = persons_json_of_query(page[params.offset : params.offset + params.limit])
        total = members.order_by().count() if params.include_total else None
        return Response(list_envelope_json("persons", rows, params, total))
