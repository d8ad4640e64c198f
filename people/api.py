"""Person endpoints under /v1/identities: the CDP persons list and lookup, merges and their undo, and the
reference data (tags, custom attribute definitions, event definitions). The person of an identity and its
events are identities.api."""

from __future__ import annotations

from django.db.models.functions import Lower
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from core.api import examples as ex
from core.api.listing import list_envelope, list_envelope_json, list_params, paginate
from core.api.schema import FILTER_HELP, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, list_parameters
from core.api.views import ApiView
from core.errors import NotFound, ValidationError
from people import merging, selectors, services
from people.models import CustomAttributeDefinition, EventDefinition, MergeRecord, Tag
from people.representation import (
    custom_attribute_as_dict,
    event_as_dict,
    event_definition_as_dict,
    person_as_dict,
    tag_as_dict,
)
from people.serializers import (
    MERGE_API_NAME,
    CustomAttributeListSerializer,
    CustomAttributeSerializer,
    CustomAttributeWriteSerializer,
    EventByIdentifierSerializer,
    EventByIdentifierWriteSerializer,
    EventDefinitionListSerializer,
    EventDefinitionPatchSerializer,
    EventDefinitionSerializer,
    EventDefinitionWriteSerializer,
    PersonListSerializer,
    PersonLookupSerializer,
    PersonMergeRequestSerializer,
    PersonMergeSerializer,
    PersonMergeUndoSerializer,
    TagListSerializer,
    TagSerializer,
    TagWriteSerializer,
    custom_attribute_args,
    event_by_identifier_args,
    event_definition_args,
    merge_args,
    merge_choices_as_api,
    tag_args,
)

TAG = "Persons"
REFERENCE_TAG = "CDP reference data"
PERSON_ORDER = {"id": "pk", "firstName": "first_name", "lastName": "last_name", "createdAt": "created",
                "modifiedAt": "modified"}  # fmt: skip
NAME_ORDER = {"name": "name", "createdAt": "created", "modifiedAt": "modified"}
DEFINITION_ORDER = {"definitionId": "definition_id", "title": "title", "createdAt": "created"}
EMPTY_LIST = OpenApiResponse(
    {"type": "array", "maxItems": 0, "items": {}}, description="An empty array.", examples=[]
)  # fmt: skip


class PersonListView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="List CDP persons",
        description="Answered from the local mirror of the realm's Infobip persons, with Infobip's list parameters.",
        parameters=list_parameters(list(PERSON_ORDER), "id:desc", filter_help=FILTER_HELP),
        responses={200: PersonListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=PERSON_ORDER, default_order="id:desc")
        persons, total = selectors.person_page_json(self.realm, request.query_params.get("filter"), params)
        return Response(list_envelope_json("persons", persons, params, total))


class PersonDetailView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Get a CDP person",
        description="A person of the key's realm by our id. The id of a person merged into another one still "
        "answers: with the survivor, `mergedFrom` set to the id asked for and a Content-Location header naming "
        "the survivor's URL.",
        parameters=[OpenApiParameter("person_id", int, OpenApiParameter.PATH)],
        responses={200: PersonLookupSerializer, **READ_ERRORS},
        examples=[
            OpenApiExample(
                "Merged into another person",
                value={**ex.MERGE_SURVIVOR, "mergedFrom": ex.MERGE_ABSORBED_ID},
                response_only=True,
            )
        ],
    )
    def get(self, request, person_id):
        person, merged_from = selectors.person_lookup(self.realm, person_id)
        body = person_as_dict(person)
        if merged_from is None:
            return Response(body)
        location = request.path.rsplit("/", 1)[0] + f"/{person.pk}"
        return Response({**body, "mergedFrom": merged_from}, headers={"Content-Location": location})


class PersonMergeView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Merge persons",
        description="Merges `others` into `survivor` in one transaction (people.merging.persons_merge, the staff "
        "merge of the admin): fields follow Infobip's rules unless `choices` names whose value wins; phones, "
        "emails and tags are combined (or only those in `keep`; at least one phone or email must stay); "
        "identities, events and channel profiles move to the survivor; the others stay as aliases, so their "
        "ids still answer with the survivor (GET /v1/identities/persons/:id). `dryRun` answers the would-be "
        "result and changes nothing. Persons of other realms are unknown ids (400); a person already merged "
        "is a 409.",
        parameters=[IDEMPOTENCY_KEY],
        request=PersonMergeRequestSerializer,
        responses={200: PersonMergeSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Merge with a choice", value=ex.MERGE_REQUEST, request_only=True),
            OpenApiExample("Dry run, keeping one email", value=ex.MERGE_DRY_RUN_REQUEST, request_only=True),
            OpenApiExample("Merged", value=ex.MERGE_RESPONSE, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request):
        args = merge_args(self.body_object(), max_profiles=merging.MAX_PROFILES)
        ids = {"survivor": args.pop("survivor"), **{f"others[{i}]": pid for i, pid in enumerate(args.pop("others"))}}
        persons = selectors.persons_of_realm(self.realm, ids)
        dry_run = args.pop("dry_run")
        merge = {
            "survivor": persons.pop("survivor"), "others": list(persons.values()), "actor": str(request.user),
            "source": "api", **args,
        }  # fmt: skip
        try:
            if dry_run:
                record, survivor = merging.persons_merge_preview(**merge)
            else:
                record = merging.persons_merge(**merge)
                survivor = selectors.persons_for_rendering([record.survivor_id])[record.survivor_id]
        except ValidationError as exc:
            raise merge_error_in_api_terms(exc, keep_given=any(k.startswith("keep_") for k in args)) from None
        return Response(
            {
                "survivor": person_as_dict(survivor),
                "absorbed": list(record.absorbed_ids),
                "mergeRecord": record.pk,
                "dryRun": dry_run,
                "choices": merge_choices_as_api(record.choices),
                "kept": {name: list(record.choices.get(name, [])) for name in ("phones", "emails", "tags")},
            }
        )


def merge_error_in_api_terms(exc: ValidationError, *, keep_given: bool) -> ValidationError:
    """people.merging names fields as the model does; the API names them as the request did."""
    fields = {}
    for name, reasons in exc.fields.items():
        if name in MERGE_API_NAME or name.startswith("customAttributes."):
            name = f"choices.{MERGE_API_NAME.get(name, name)}"
        elif name == "contactInformation" and keep_given:
            name = "keep"
        fields[name] = reasons
    return ValidationError(fields, code=exc.code)


class PersonMergeUndoView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Undo a merge",
        description="Restores the absorbed persons of a merge record exactly as they were (contacts, tags, "
        "events, identities, aliases) and gives the survivor back its pre-merge values where nobody changed them "
        "since (people.merging.merge_undo). 409 with `data.blockers` when something they held belongs to "
        "someone else now, a person is gone, the survivor was merged again or the merge was already undone.",
        parameters=[IDEMPOTENCY_KEY, OpenApiParameter("record_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={200: PersonMergeUndoSerializer, **WRITE_ERRORS},
    )
    def post(self, request, record_id):
        record = MergeRecord.objects.filter(realm=self.realm, pk=record_id).first()
        if record is None:
            raise NotFound(f"merge record {record_id} does not exist")
        plan = merging.merge_undo(record=record, actor=str(request.user), source="api")
        persons = selectors.persons_for_rendering([plan.survivor.pk, *(p.pk for p in plan.absorbed)])
        return Response(
            {
                "mergeRecord": record.pk,
                "survivor": person_as_dict(persons[plan.survivor.pk]),
                "restored": [person_as_dict(persons[p.pk]) for p in plan.absorbed],
                "kept": plan.kept,
                "notes": plan.notes,
            }
        )


def tag_get(realm, name: str) -> Tag:
    tag = Tag.objects.annotate(lname=Lower("name")).filter(realm=realm, lname=name.lower()).first()
    if tag is None:
        raise NotFound(f"tag {name!r} does not exist")
    return tag


class TagListView(ApiView):
    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="List tags",
        parameters=list_parameters(list(NAME_ORDER), "name:asc"),
        responses={200: TagListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=NAME_ORDER, default_order="name:asc")
        rows, total = paginate(Tag.objects.filter(realm=self.realm), params)
        return Response(list_envelope("tags", rows, tag_as_dict, params, total))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Create a tag",
        parameters=[IDEMPOTENCY_KEY],
        request=TagWriteSerializer,
        responses={201: TagSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Tag", value=ex.TAG_REQUEST, request_only=True)],
    )
    def post(self, request):
        tag = services.tag_create(realm=self.realm, **tag_args(self.body_object()))
        return Response(tag_as_dict(tag), status=201)


class TagDetailView(ApiView):
    @extend_schema(tags=[REFERENCE_TAG], summary="Get a tag", responses={200: TagSerializer, **READ_ERRORS})
    def get(self, request, name):
        return Response(tag_as_dict(tag_get(self.realm, name)))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Delete a tag",
        description="Removes it from every person and company. Answers [].",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: EMPTY_LIST, **WRITE_ERRORS},
    )
    def delete(self, request, name):
        services.tag_delete(tag=tag_get(self.realm, name))
        return Response([])


def custom_attribute_get(realm, name: str) -> CustomAttributeDefinition:
    definition = CustomAttributeDefinition.objects.filter(realm=realm, name=name).first()
    if definition is None:
        raise NotFound(f"custom attribute {name!r} does not exist")
    return definition


class CustomAttributeListView(ApiView):
    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="List custom attribute definitions",
        parameters=list_parameters(list(NAME_ORDER), "name:asc"),
        responses={200: CustomAttributeListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=NAME_ORDER, default_order="name:asc")
        rows, total = paginate(CustomAttributeDefinition.objects.filter(realm=self.realm), params)
        return Response(list_envelope("customAttributes", rows, custom_attribute_as_dict, params, total))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Define a custom attribute",
        description="A person's or company's custom attribute must be defined before it is used.",
        parameters=[IDEMPOTENCY_KEY],
        request=CustomAttributeWriteSerializer,
        responses={201: CustomAttributeSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("List of objects", value=ex.CUSTOM_ATTRIBUTE_REQUEST, request_only=True)],
    )
    def post(self, request):
        args = custom_attribute_args(self.body_object())
        definition = services.custom_attribute_definition_create(realm=self.realm, **args)
        return Response(custom_attribute_as_dict(definition), status=201)


class CustomAttributeDetailView(ApiView):
    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Get a custom attribute definition",
        responses={200: CustomAttributeSerializer, **READ_ERRORS},
    )
    def get(self, request, name):
        return Response(custom_attribute_as_dict(custom_attribute_get(self.realm, name)))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Delete a custom attribute definition",
        description="Removes its values from every person. Answers [].",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: EMPTY_LIST, **WRITE_ERRORS},
    )
    def delete(self, request, name):
        services.custom_attribute_definition_delete(definition=custom_attribute_get(self.realm, name))
        return Response([])


class EventDefinitionListView(ApiView):
    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="List event definitions",
        parameters=list_parameters(list(DEFINITION_ORDER), "definitionId:asc"),
        responses={200: EventDefinitionListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=DEFINITION_ORDER, default_order="definitionId:asc")
        rows, total = paginate(EventDefinition.objects.filter(realm=self.realm), params)
        return Response(list_envelope("definitions", rows, event_definition_as_dict, params, total))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Create an event definition",
        parameters=[IDEMPOTENCY_KEY],
        request=EventDefinitionWriteSerializer,
        responses={201: EventDefinitionSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("addToCart", value=ex.EVENT_DEFINITION_REQUEST, request_only=True)],
    )
    def post(self, request):
        args = event_definition_args(self.body_object())
        definition = services.event_definition_create(realm=self.realm, **args)
        return Response(event_definition_as_dict(definition), status=201)


class EventDefinitionDetailView(ApiView):
    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Get an event definition",
        parameters=[OpenApiParameter("definition_id", str, OpenApiParameter.PATH)],
        responses={200: EventDefinitionSerializer, **READ_ERRORS},
    )
    def get(self, request, definition_id):
        return Response(event_definition_as_dict(event_definition_get(self.realm, definition_id)))

    @extend_schema(
        tags=[REFERENCE_TAG],
        summary="Update an event definition",
        description="Title, description and fields; fields not sent stay. Infobip's update is additive: fields can "
        "be added, never removed or retyped (400). The definitionId cannot change.",
        parameters=[IDEMPOTENCY_KEY, OpenApiParameter("definition_id", str, OpenApiParameter.PATH)],
        request=EventDefinitionPatchSerializer,
        responses={200: EventDefinitionSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("New field", value=ex.EVENT_DEFINITION_UPDATE_REQUEST, request_only=True)],
    )
    def patch(self, request, definition_id):
        definition = event_definition_get(self.realm, definition_id)
        args = event_definition_args(self.body_object())
        if args.pop("definition_id") not in (None, definition.definition_id):
            raise ValidationError.single("definitionId", "cannot change")
        data = self.body_object()
        definition = services.event_definition_update(
            definition=definition,
            title=data.get("title", definition.title),
            description=data.get("description", definition.description) or "",
            fields=args["fields"],
        )
        return Response(event_definition_as_dict(definition))


def event_definition_get(realm, definition_id: str) -> EventDefinition:
    definition = EventDefinition.objects.filter(realm=realm, definition_id=definition_id).first()
    if definition is None:
        raise NotFound(f"event definition {definition_id!r} does not exist")
    return definition


class PersonEventByIdentifierView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Send a custom event for an email, phone or externalId",
        description="Infobip's send-event with `createPerson`: the realm's person holding the identifier gets the "
        "event; when none does, `createPerson: true` creates one (a Customer with that identifier, 201 with "
        "`personCreated`), else 404. The definition must exist and the properties fit it (400). A repeated "
        "`data.eventId` records the event once and answers the first one (200).",
        parameters=[IDEMPOTENCY_KEY, OpenApiParameter("definition_id", str, OpenApiParameter.PATH)],
        request=EventByIdentifierWriteSerializer,
        responses={201: EventByIdentifierSerializer, 200: EventByIdentifierSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("New customer", value=ex.EVENT_BY_IDENTIFIER_REQUEST, request_only=True)],
    )
    def post(self, request, definition_id):
        args = event_by_identifier_args(self.body_object())
        try:
            event, created, person, person_created = services.person_event_record_by_identifier(
                realm=self.realm, definition_id=definition_id, **args
            )
        except NotFound as exc:
            if exc.code != "unknown_definition":
                raise
            raise ValidationError({"event": [exc.message]}, code=exc.code) from None
        body = {**event_as_dict(event, person), "person": str(person.pk), "personCreated": person_created}
        return Response(body, status=201 if created else 200)
