"""Identity endpoints: /v1/identities, /v1/identities/:id (GET/PATCH/DELETE, ?populate=person,company), and an
identity's person and company (/v1/identities/person, /v1/identities/:id/person[...], /v1/identities/:id/company).

Identities sit above people and companies: an identity's endpoints compose them, never the other way round."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api import examples as ex
from core.api.listing import list_envelope, list_params, paginate
from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from core.errors import NotFound, ValidationError
from identities import selectors, services
from identities.representation import identity_as_dict, parse_populate
from identities.serializers import (
    IdentityListSerializer,
    IdentityPersonWriteSerializer,
    IdentitySerializer,
    IdentityWriteSerializer,
    company_lookup,
    identity_args,
)
from people import selectors as person_selectors
from people import services as person_services
from people.representation import event_as_dict
from people.serializers import EventSerializer, EventWriteSerializer, PersonWriteSerializer, event_args

TAG = "Identities"
PERSON_TAG = "Persons"
COMPANY_TAG = "Companies"
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


# ------------------------------------------------------------------------------ the person of an identity


def identity_with_person(realm, identity_id: str):
    """The identity and its person (populated); 404 when the identity has none."""
    identity = selectors.identity_get(realm, identity_id, ("person",))
    if identity.person_id is None:
        raise NotFound(f"identity {identity_id} has no person", code="person_not_assigned")
    return identity


def person_identity_response(realm, identity_id: str, status: int = 200) -> Response:
    identity = selectors.identity_get(realm, identity_id, ("person",))
    return Response(identity_as_dict(identity, ("person",)), status=status)


class PersonIdentityCreateView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Create a person and an identity",
        description="Identity fields plus `person` (standard attributes, tags, customAttributes, contactInformation) "
        "and an optional `company` id. Read-only channel profiles are stored as preview data.",
        parameters=[IDEMPOTENCY_KEY],
        request=IdentityPersonWriteSerializer,
        responses={201: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Person and identity", value=ex.CREATE_PERSON_IDENTITY_REQUEST, request_only=True),
            OpenApiExample(
                "Created", value=ex.CREATE_PERSON_IDENTITY_RESPONSE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def post(self, request):
        args, person = IdentityPersonWriteSerializer.parse(self.realm, self.body_object())
        owner = args.pop("owner", self.owner)
        identity = services.identity_create_with_person(realm=self.realm, owner=owner, person_args=person, **args)
        # Rendered from what was written (identity_create_with_person's person carries its tags and contacts).
        return Response(identity_as_dict(identity, ("person",)), status=201)


class IdentityPersonView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Get the person of an identity",
        description="The identity with its person populated (like GET /v1/identities/:id?populate=person).",
        responses={200: IdentitySerializer, **READ_ERRORS},
        examples=[OpenApiExample("Person identity", value=ex.PERSON_IDENTITY_RESPONSE, response_only=True)],
    )
    def get(self, request, identity_id):
        identity = identity_with_person(self.realm, identity_id)
        return Response(identity_as_dict(identity, ("person",)))

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Create a person for an existing identity",
        description="409 when the identity already has a person.",
        parameters=[IDEMPOTENCY_KEY],
        request=PersonWriteSerializer,
        responses={201: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Person", value=ex.JANE, request_only=True),
            OpenApiExample("Created", value=ex.PERSON_IDENTITY_RESPONSE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request, identity_id):
        identity = selectors.identity_get(self.realm, identity_id)
        person_args = PersonWriteSerializer.parse(self.body_object(), company_of=company_lookup(self.realm))
        services.identity_person_create(identity=identity, person_args=person_args)
        return person_identity_response(self.realm, identity_id, status=201)

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Update the person of an identity",
        description="Merges (Infobip's PATCH): fields not sent keep their value; tags and contacts sent are added; "
        "a custom attribute sent as null is removed; `company` moves the person and its identities. To take tags or "
        "contacts away use PUT or the .../person/tags and .../person/contacts endpoints.",
        parameters=[IDEMPOTENCY_KEY],
        request=PersonWriteSerializer,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("New address", value=ex.UPDATE_PERSON_REQUEST, request_only=True),
            OpenApiExample("Updated", value=ex.UPDATE_PERSON_RESPONSE, response_only=True),
        ],
    )
    def patch(self, request, identity_id):
        return self._update(identity_id, replace=False)

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Replace the person of an identity",
        description="Replaces the whole profile (Infobip's PUT): attributes not sent are cleared; the tags, phones, "
        "emails and custom attributes sent replace the current ones (a list not sent stays). Removing the last "
        "phone or email of a person without externalId is refused (400, `last_contact`).",
        parameters=[IDEMPOTENCY_KEY],
        request=PersonWriteSerializer,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Whole profile", value=ex.REPLACE_PERSON_REQUEST, request_only=True),
            OpenApiExample("Last contact", value=ex.LAST_CONTACT_ERROR, response_only=True, status_codes=["400"]),
        ],
    )
    def put(self, request, identity_id):
        return self._update(identity_id, replace=True)

    def _update(self, identity_id, *, replace: bool) -> Response:
        identity = identity_with_person(self.realm, identity_id)
        args = PersonWriteSerializer.parse(self.body_object(), company_of=company_lookup(self.realm))
        person_services.person_update(person=identity.person, default_country=identity.country, replace=replace, **args)
        return person_identity_response(self.realm, identity_id)

    @extend_schema(
        tags=[PERSON_TAG],
        summary="Delete the person of an identity",
        description="Deletes the person from the CDP; the identity stays, its person becomes null.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Deleted", value=ex.UNASSIGNED_RESPONSE, response_only=True)],
    )
    def delete(self, request, identity_id):
        identity = identity_with_person(self.realm, identity_id)
        person_services.person_delete(person=identity.person)
        return Response(identity_as_dict(selectors.identity_get(self.realm, identity_id)))


class IdentityPersonAssignView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Assign an existing person to an identity",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Assigned", value=ex.ASSIGNED_RESPONSE, response_only=True)],
    )
    def patch(self, request, identity_id, person_id):
        identity = selectors.identity_get(self.realm, identity_id)
        person = person_selectors.person_resolve(self.realm, person_id)
        if person is None:
            raise NotFound(f"person {person_id} does not exist")
        identity = services.identity_assign_person(identity=identity, person=person)
        return Response(identity_as_dict(identity))


class IdentityPersonUnassignView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Unassign the person of an identity",
        description="The person stays in the CDP.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: IdentitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Unassigned", value=ex.UNASSIGNED_RESPONSE, response_only=True)],
    )
    def patch(self, request, identity_id):
        identity = selectors.identity_get(self.realm, identity_id)
        identity = services.identity_unassign_person(identity=identity)
        return Response(identity_as_dict(identity))


class IdentityPersonEventView(ApiView):
    @extend_schema(
        tags=[PERSON_TAG],
        summary="Send a custom event of the identity's person",
        description="The event definition must exist and the properties must fit it (else 400). A repeated "
        "`data.eventId` records the event once and answers the first one (200).",
        parameters=[IDEMPOTENCY_KEY],
        request=EventWriteSerializer,
        responses={201: EventSerializer, 200: EventSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("addToCart", value=ex.EVENT_REQUEST, request_only=True),
            OpenApiExample("Recorded", value=ex.EVENT_RESPONSE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request, identity_id, definition_id):
        identity = identity_with_person(self.realm, identity_id)
        args = event_args(self.body_object())
        try:
            event, created = person_services.person_event_record(
                person=identity.person, definition_id=definition_id, **args
            )
        except NotFound as exc:  # the definition: for this endpoint an input error, not a missing resource
            raise ValidationError({"event": [exc.message]}, code=exc.code) from None
        return Response(event_as_dict(event, identity.person), status=201 if created else 200)


# ------------------------------------------------------------------------------------------- reference data


# ----------------------------------------------------------------------------- the company of an identity


class IdentityCompanyView(ApiView):
    @extend_schema(
        tags=[COMPANY_TAG],
        summary="Get the company of an identity",
        description="The identity with its company populated (like GET /v1/identities/:id?populate=company).",
        responses={200: IdentitySerializer, **READ_ERRORS},
        examples=[OpenApiExample("Company identity", value=ex.IDENTITY_COMPANY_RESPONSE, response_only=True)],
    )
    def get(self, request, identity_id):
        identity = selectors.identity_get(self.realm, identity_id, ("company",))
        if identity.company_id is None:
            raise NotFound(f"identity {identity_id} has no company", code="company_not_assigned")
        return Response(identity_as_dict(identity, ("company",)))
