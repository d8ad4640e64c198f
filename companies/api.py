"""Company endpoints under /v1/identities: list, create, update, delete (the company of an identity is
identities.api)."""

from __future__ import annotations

import orjson
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from companies import selectors, services
from companies.representation import company_as_dict
from companies.serializers import CompanyListSerializer, CompanySerializer, CompanyWriteSerializer, company_args
from core.api import examples as ex
from core.api.listing import list_envelope, list_envelope_json, list_params, paginate
from core.api.schema import FILTER_HELP, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from core.errors import ErrorCollector, ValidationError
from identities.ids import parse_object_id
from people.models import Person
from people.representation import persons_json_of_query
from people.selectors import persons_of_realm
from people.serializers import PersonListSerializer

TAG = "Companies"
ORDER_FIELDS = {"id": "pk", "name": "name", "createdAt": "created", "modifiedAt": "modified"}
REPLACE_TAGS = OpenApiParameter(
    "replaceTags", OpenApiTypes.BOOL, description="Replace the company's tags instead of adding to them."
)


class CompanyListView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List CDP companies",
        parameters=list_parameters(list(ORDER_FIELDS), "name:asc", filter_help=FILTER_HELP + " No #notContain."),
        responses={200: CompanyListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=ORDER_FIELDS, default_order="name:asc")
        rows, total = paginate(selectors.company_list(self.realm, request.query_params.get("filter")), params)
        return Response(list_envelope("companies", rows, company_as_dict, params, total))


class CompanyCreateView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Create a company",
        parameters=[IDEMPOTENCY_KEY],
        request=CompanyWriteSerializer,
        responses={201: CompanySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Orangepill", value=ex.CREATE_COMPANY_REQUEST, request_only=True),
            OpenApiExample("Created", value=ex.COMPANY_RESPONSE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request):
        company = services.company_create(realm=self.realm, **company_args(self.body_object()))
        return Response(company_as_dict(selectors.company_get(self.realm, company.pk)), status=201)


class CompanyDetailView(ApiView):
    @extend_schema(tags=[TAG], summary="Get a company", responses={200: CompanySerializer, **READ_ERRORS})
    def get(self, request, company_id):
        return Response(company_as_dict(selectors.company_get(self.realm, company_id)))

    @extend_schema(
        tags=[TAG],
        summary="Update a company",
        description="PATCH meaning: fields not sent keep their value; tags sent are added (replaced with "
        "?replaceTags=true); a custom attribute sent as null is removed.",
        parameters=[IDEMPOTENCY_KEY, REPLACE_TAGS],
        request=CompanyWriteSerializer,
        responses={200: CompanySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Inactive", value=ex.UPDATE_COMPANY_REQUEST, request_only=True),
            OpenApiExample("Updated", value=ex.UPDATED_COMPANY_RESPONSE, response_only=True),
        ],
    )
    def patch(self, request, company_id):
        company = selectors.company_get(self.realm, company_id)
        replace_tags = (request.query_params.get("replaceTags") or "").lower() in ("true", "1")
        services.company_update(company=company, replace_tags=replace_tags, **company_args(self.body_object()))
        return Response(company_as_dict(selectors.company_get(self.realm, company_id)))

    @extend_schema(
        tags=[TAG],
        summary="Delete a company",
        description="Persons and identities linked to it stay, unlinked. Answers [] (as the source documents).",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            200: OpenApiResponse({"type": "array", "maxItems": 0, "items": {}}, description="An empty array."),
            **WRITE_ERRORS,
        },
    )
    def delete(self, request, company_id):
        services.company_delete(company=selectors.company_get(self.realm, company_id))
        return Response([])


PERSON_ORDER = {"id": "pk", "createdAt": "created", "modifiedAt": "modified"}
MEMBERS_MAX = 1000


class CompanyPersonsWriteSerializer(serializers.Serializer):
    persons = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=MEMBERS_MAX)

    class Meta:
        ref_name = "CompanyPersonsWrite"


def members_args(realm, data: dict) -> list[Person]:
    """`{"persons": [ids]}` → the realm's persons (unknown ids and other realms' are field errors)."""
    errors = ErrorCollector()
    for key in sorted(set(data) - {"persons"}):
        errors.add(key, 'is not a membership field; send {"persons": [ids]}')
    raw = data.get("persons")
    if not isinstance(raw, list) or not raw or len(raw) > MEMBERS_MAX:
        errors.add("persons", f"must be a list of 1..{MEMBERS_MAX} person ids")
        raw = []
    ids = {}
    for index, value in enumerate(raw):
        pid = parse_object_id(value)
        if pid is None:
            errors.add(f"persons[{index}]", f"{str(value)[:40]!r} is not a person id")
        ids[f"persons[{index}]"] = pid
    errors.raise_if_any()
    persons = persons_of_realm(realm, ids)
    merged = [name for name, person in persons.items() if person.merged_into_id]
    if merged:
        raise ValidationError({name: ["was merged into another person"] for name in merged})
    return list({p.pk: p for p in persons.values()}.values())


def members_page(realm, company, query, *, stored: bool = False) -> Response:
    """A page of the company's persons (one query for the page whatever its size, plus the total when asked).
    `stored`: the answer of a write, which an idempotency key may store, so plain data, not a JSON fragment."""
    params = list_params(query, order_fields=PERSON_ORDER, default_order="id:asc")
    members = Person.objects.filter(realm=realm, company=company).active()
    page = members.order_by(*params.ordering).values_list("pk", flat=True)
    rows = persons_json_of_query(page[params.offset : params.offset + params.limit])
    total = members.order_by().count() if params.include_total else None
    body = list_envelope_json("persons", rows, params, total)
    if stored:
        body["persons"] = orjson.loads(rows)
    return Response(body)


class CompanyPersonsView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List the persons of a company",
        parameters=list_parameters(list(PERSON_ORDER), "id:asc"),
        responses={200: PersonListSerializer, **READ_ERRORS},
    )
    def get(self, request, company_id):
        return members_page(self.realm, selectors.company_get(self.realm, company_id), request.query_params)

    @extend_schema(
        tags=[TAG],
        summary="Add persons to a company",
        description="Each person leaves its former company; its identities name this one too; Infobip follows. "
        "Answers the first page of the company's persons.",
        parameters=[IDEMPOTENCY_KEY],
        request=CompanyPersonsWriteSerializer,
        responses={200: PersonListSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Two persons", value=ex.COMPANY_PERSONS_REQUEST, request_only=True)],
    )
    def post(self, request, company_id):
        company = selectors.company_get(self.realm, company_id)
        services.company_persons_add(company=company, persons=members_args(self.realm, self.body_object()))
        return members_page(self.realm, company, {}, stored=True)

    @extend_schema(
        tags=[TAG],
        summary="Remove persons from a company",
        description="The persons (and their identities) no longer name a company; persons of another company are "
        "left alone. Answers the first page of the company's persons.",
        parameters=[IDEMPOTENCY_KEY],
        request=CompanyPersonsWriteSerializer,
        responses={200: PersonListSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Two persons", value=ex.COMPANY_PERSONS_REQUEST, request_only=True)],
    )
    def delete(self, request, company_id):
        company = selectors.company_get(self.realm, company_id)
        services.company_persons_remove(company=company, persons=members_args(self.realm, self.body_object()))
        return members_page(self.realm, company, {}, stored=True)
