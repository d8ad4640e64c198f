"""Company endpoints under /v1/identities: list, create, update, delete (the company of an identity is
identities.api)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from companies import selectors, services
from companies.representation import company_as_dict
from companies.serializers import CompanyListSerializer, CompanySerializer, CompanyWriteSerializer, company_args
from core.api import examples as ex
from core.api.listing import list_envelope, list_params, paginate
from core.api.schema import FILTER_HELP, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView

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
