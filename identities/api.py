"""Identity endpoints: /v1/identities, /v1/identities/:id (GET/PATCH/DELETE, ?populate=person,company)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api import examples as ex
from core.api.listing import list_envelope, list_params, paginate
from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from identities import selectors, services
from identities.representation import identity_as_dict, parse_populate
from identities.serializers import IdentityListSerializer, IdentitySerializer, IdentityWriteSerializer, identity_args

TAG = "Identities"
ORDER_FIELDS = {"created_at": "created", "alias": "alias"}
POPULATE = OpenApiParameter(
    "populate",
    OpenApiTypes.STR,
    description="`person`, `company` or `person,company`: the reference becomes the full object.",
)
FILTERS = [
    OpenApiParameter("type", OpenApiTypes.STR, enum=["neutral", "person", "company"]),
    OpenApiParameter("country", OpenApiTypes.STR, description="ISO 3166-1 alpha-2."),
    OpenApiParameter("person", OpenApiTypes.STR, description="A person id, or `null` for identities without one."),
    OpenApiParameter("company", OpenApiTypes.STR, description="A company id, or `null`."),
    OpenApiParameter("alias", OpenApiTypes.STR, description="Exact alias, any case."),
]


class IdentityListView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List identities",
        parameters=[*list_parameters(list(ORDER_FIELDS), "created_at:desc"), *FILTERS, POPULATE],
        responses={200: IdentityListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=ORDER_FIELDS, default_order="created_at:desc")
        populate = parse_populate(request.query_params.get("populate"))
        rows, total = paginate(selectors.identity_list(self.realm, request.query_params, populate), params)
        return Response(list_envelope("identities", rows, lambda i: identity_as_dict(i, populate), params, total))

    @extend_schema(
        tags=[TAG],
        summary="Create an identity",
        description="Country and currency default to the realm's, the owner to the API key's.",
        parameters=[IDEMPOTENCY_KEY],
        request=IdentityWriteSerializer,
        responses={201: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Identity",
                value={
                    "country": "US",
                    "currency": "USD",
                    "type": "neutral",
                    "data": {"custom_field1": "custom_value1"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        args = identity_args(self.realm, self.body_object())
        owner = args.pop("owner", self.owner)
        identity = services.identity_create(realm=self.realm, owner=owner, **args)
        return Response(identity_as_dict(identity), status=201)


class IdentityDetailView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Get an identity",
        parameters=[POPULATE],
        responses={200: IdentitySerializer, **READ_ERRORS},
        examples=[
            OpenApiExample("populate=company", value=ex.IDENTITY_COMPANY_RESPONSE, response_only=True),
        ],
    )
    def get(self, request, identity_id):
        populate = parse_populate(request.query_params.get("populate"))
        identity = selectors.identity_get(self.realm, identity_id, populate)
        return Response(identity_as_dict(identity, populate))

    @extend_schema(
        tags=[TAG],
        summary="Update an identity",
        description='Any identity field. `{"company": "3"}` assigns a company of the realm, `{"company": null}` '
        "unassigns it; `person` works the same way.",
        parameters=[IDEMPOTENCY_KEY, POPULATE],
        request=IdentityWriteSerializer,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Assign company", value=ex.ASSIGN_COMPANY_REQUEST, request_only=True),
            OpenApiExample("Unassign company", value=ex.UNASSIGN_COMPANY_REQUEST, request_only=True),
            OpenApiExample("Company assigned", value=ex.COMPANY_ASSIGNED_RESPONSE, response_only=True),
        ],
    )
    def patch(self, request, identity_id):
        populate = parse_populate(request.query_params.get("populate"))
        identity = selectors.identity_get(self.realm, identity_id)
        services.identity_update(identity=identity, **identity_args(self.realm, self.body_object()))
        return Response(identity_as_dict(selectors.identity_get(self.realm, identity_id, populate), populate))

    @extend_schema(
        tags=[TAG],
        summary="Delete an identity",
        description="Answers the deleted identity. Its person and company stay in the CDP.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
    )
    def delete(self, request, identity_id):
        identity = selectors.identity_get(self.realm, identity_id)
        body = identity_as_dict(identity)
        services.identity_delete(identity=identity)
        return Response(body)
