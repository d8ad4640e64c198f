"""Shapes of person JSON at the API's edge. The `*_args` functions turn a request body into a service call's
arguments (names and structure only: the services validate values); the Serializer classes describe the JSON
for the OpenAPI document (responses are rendered by people.representation, which the schema tests check).
A person's write body has one contract: PersonWriteSerializer documents it and its `parse` reads it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.errors import ErrorCollector, ValidationError
from identities.ids import parse_object_id
from people.fields import PERSON_ATTRIBUTES
from people.models import Channel, DataType, Gender, Origin, PersonType, SyncStatus
from people.services import EVENT_FIELD_TYPE_CHOICES

PERSON_READ_ONLY = {
    "id", "createdAt", "modifiedAt", "origin", "modifiedFrom", "infobipId", "syncStatus", "syncError",
    "computedAttributes", "integrations",
}  # fmt: skip


MERGE_KEYS = {"survivor", "others", "choices", "keep", "dryRun"}
KEEP_KEYS = {"phones": "keep_phones", "emails": "keep_emails", "tags": "keep_tags"}
MERGE_CHOICE_FIELDS = {**PERSON_ATTRIBUTES, "company": "company_id"}  # API name → people.merging's name


def merge_args(data: dict[str, Any], *, max_profiles: int) -> dict[str, Any]:
    """A merge body → (survivor id, other ids) and persons_merge's other keyword arguments, with the choices'
    camelCase names translated to the model's (`firstName` → `first_name`; `customAttributes.<name>` as is).
    Ids are checked for shape here; the view resolves them in the key's realm."""
    errors = ErrorCollector()
    for key in sorted(set(data) - MERGE_KEYS):
        errors.add(key, "is not a merge field; use survivor, others, choices, keep, dryRun")
    survivor = parse_object_id(data.get("survivor"))
    if survivor is None:
        errors.add("survivor", "is required: the id of the person that stays")
    others_raw = data.get("others")
    others: list[int] = []
    if not isinstance(others_raw, list) or not others_raw:
        errors.add("others", "is required: a list of the ids of the persons merged into the survivor")
    elif len(others_raw) > max_profiles - 1:
        errors.add("others", f"at most {max_profiles - 1} persons can be merged into one at once")
    else:
        for index, value in enumerate(others_raw):
            pid = parse_object_id(value)
            if pid is None:
                errors.add(f"others[{index}]", f"{str(value)[:40]!r} is not a person id")
            else:
                others.append(pid)
    ids = {survivor, *others}
    choices: dict[str, int] = {}
    raw_choices = data.get("choices") or {}
    if not isinstance(raw_choices, dict):
        errors.add("choices", "must be an object of field name → person id")
        raw_choices = {}
    for name, value in raw_choices.items():
        pid = parse_object_id(value)
        if name in MERGE_CHOICE_FIELDS:
            field = MERGE_CHOICE_FIELDS[name]
        elif name.startswith("customAttributes.") and len(name) > len("customAttributes."):
            field = name
        else:
            errors.add(f"choices.{name}", "is not a field that can be chosen (a standard attribute, company or "
                       "customAttributes.<name>)")  # fmt: skip
            continue
        if pid is None or pid not in ids:
            errors.add(f"choices.{name}", f"person {str(value)[:40]} is not one of the merged persons")
            continue
        choices[field] = pid
    keep: dict[str, list[str]] = {}
    raw_keep = data.get("keep") or {}
    if not isinstance(raw_keep, dict):
        errors.add("keep", "must be an object with phones, emails and/or tags")
        raw_keep = {}
    for name, values in raw_keep.items():
        if name not in KEEP_KEYS:
            errors.add(f"keep.{name}", "is not something to keep; use phones, emails or tags")
        elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.add(f"keep.{name}", "must be a list of strings")
        else:
            keep[KEEP_KEYS[name]] = values
    dry_run = data.get("dryRun", False)
    if not isinstance(dry_run, bool):
        errors.add("dryRun", "must be true or false")
    errors.raise_if_any()
    return {"survivor": survivor, "others": others, "choices": choices, "dry_run": dry_run, **keep}


def merge_choices_as_api(choices: dict[str, Any]) -> dict[str, int]:
    """A MergeRecord's choices (model names) in the API's names, as the request spells them."""
    api = {MERGE_API_NAME.get(name, name): pid for name, pid in choices.get("fields", {}).items()}
    api |= {f"customAttributes.{name}": pid for name, pid in choices.get("customAttributes", {}).items()}
    return api


MERGE_API_NAME = {model: api for api, model in MERGE_CHOICE_FIELDS.items()}


def tag_args(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"name", "id", "createdAt", "modifiedAt"})
    if unknown:
        raise ValidationError({key: ["is not a tag field"] for key in unknown})
    return {"name": data.get("name")}


def custom_attribute_args(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"name", "dataType", "objectSchema", "createdAt", "modifiedAt"})
    if unknown:
        raise ValidationError({key: ["is not a custom attribute field"] for key in unknown})
    if not isinstance(data.get("name", ""), str):
        raise ValidationError.single("name", "must be a string")
    return {"name": data.get("name"), "data_type": data.get("dataType"), "object_schema": data.get("objectSchema")}


def event_definition_args(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"definitionId", "title", "description", "fields", "createdAt", "modifiedAt"})
    if unknown:
        raise ValidationError({key: ["is not an event definition field"] for key in unknown})
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise ValidationError.single("description", "must be a string")
    return {
        "definition_id": data.get("definitionId"),
        "title": data.get("title"),
        "description": description,
        "fields": data.get("fields"),
    }


def event_args(data: dict[str, Any]) -> dict[str, Any]:
    """`{"data": {"properties": {...}, "eventId"?: "..."}}` → person_event_record arguments."""
    errors = ErrorCollector()
    for key in set(data) - {"data"}:
        errors.add(key, 'is not an event field; send {"data": {"properties": {...}}}')
    inner = data.get("data", {})
    if not isinstance(inner, dict):
        errors.add("data", "must be an object with properties")
        inner = {}
    for key in set(inner) - {"properties", "eventId"}:
        errors.add(f"data.{key}", "is not an event field")
    errors.raise_if_any()
    return {"properties": inner.get("properties"), "event_id": inner.get("eventId")}


# --------------------------------------------------------------------------------------------- documentation

NULLABLE_TEXT = {"required": False, "allow_null": True}


class PhoneSerializer(serializers.Serializer):
    number = serializers.CharField(
        allow_blank=True, help_text="International digits without '+', e.g. 41793026727; an empty one is skipped."
    )


class EmailSerializer(serializers.Serializer):
    address = serializers.CharField(allow_blank=True, help_text="An empty address is skipped.")


def _read_only_channel() -> serializers.ListField:
    return serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only (preview).")


# Phone and email are written; every read-only channel of Channel is accepted as preview data and documented so.
ContactInformationSerializer = type(
    "ContactInformationSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "phone": PhoneSerializer(many=True, required=False),
        "email": EmailSerializer(many=True, required=False),
        **{channel: _read_only_channel() for channel in Channel.values},
    },
)


class PersonWriteSerializer(serializers.Serializer):
    externalId = serializers.CharField(**NULLABLE_TEXT)
    type = serializers.ChoiceField(PersonType.choices, required=False)
    firstName = serializers.CharField(required=False, help_text='Not: & < > " / \\ : ( ) { } = ; # line breaks')
    lastName = serializers.CharField(required=False)
    middleName = serializers.CharField(required=False)
    nickName = serializers.CharField(required=False, help_text="At most 50 characters; the same characters refused")
    gender = serializers.ChoiceField(Gender.choices, required=False, allow_null=True)
    birthDate = serializers.DateField(required=False, allow_null=True)
    address = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    preferredLanguage = serializers.CharField(**NULLABLE_TEXT)
    profilePicture = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="Unknown names are created.")
    customAttributes = serializers.DictField(required=False, help_text="Each name must be defined first.")
    contactInformation = ContactInformationSerializer(required=False)
    company = serializers.CharField(
        required=False, allow_null=True, help_text="A company id of the realm, or null (the person leaves it)."
    )

    class Meta:
        ref_name = "PersonWrite"

    @classmethod
    def parse(cls, data: Any, *, prefix: str = "", company_of=None) -> dict[str, Any]:
        """A person body (Infobip's IamPersonV2 shape) → keyword arguments of person_create/person_update.

        Exactly the fields declared above are accepted, so the OpenAPI document (built from them) is the
        contract. Read-only fields (as returned by GET) are ignored, so a fetched person can be sent back;
        read-only channel profiles in contactInformation are passed on as preview data. Names and structure
        only: the services validate values.
        """
        errors = ErrorCollector()
        if not isinstance(data, dict):
            raise ValidationError.single(prefix.rstrip(".") or "body", "must be a JSON object")
        args: dict[str, Any] = {"attributes": {}}
        for key, value in data.items():
            if key not in cls._declared_fields:
                if key not in PERSON_READ_ONLY:
                    errors.add(f"{prefix}{key}", "is not a person field")
            elif key == "tags":
                if not isinstance(value, list):
                    errors.add(f"{prefix}tags", "must be a list of tag names")
                else:
                    args["tags"] = value
            elif key == "customAttributes":
                if not isinstance(value, dict):
                    errors.add(f"{prefix}customAttributes", "must be an object of name → value")
                else:
                    args["custom_attributes"] = value
            elif key == "contactInformation":
                _contact_args(value, args, errors, f"{prefix}contactInformation")
            elif key == "company":
                args["company"] = _company_arg(company_of, value, errors, f"{prefix}company")
            else:
                args["attributes"][PERSON_ATTRIBUTES[key]] = value
        errors.raise_if_any()
        return args


def _company_arg(company_of, value: Any, errors: ErrorCollector, field: str) -> Any:
    """`company_of(value, errors, field)` (the caller's realm-scoped lookup: companies sit above people) → the
    Company, None for null."""
    if company_of is None:
        errors.add(field, "cannot be set here")
        return None
    return company_of(value, errors, field)


def _contact_args(value: Any, args: dict[str, Any], errors: ErrorCollector, field: str) -> None:
    if not isinstance(value, dict):
        errors.add(field, "must be an object of channel → list")
        return
    profiles = {}
    for channel, items in value.items():
        if channel not in ContactInformationSerializer._declared_fields:
            errors.add(f"{field}.{channel}", "is not a contact information channel")
        elif not isinstance(items, list):
            errors.add(f"{field}.{channel}", "must be a list")
        elif channel == "phone":
            args["phones"] = items
        elif channel == "email":
            args["emails"] = items
        else:
            profiles[channel] = items
    if profiles:
        args["channel_profiles"] = profiles


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Our id of the person (the mirror's).")
    createdAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    modifiedAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    externalId = serializers.CharField(allow_null=True)
    type = serializers.ChoiceField(PersonType.choices)
    firstName = serializers.CharField(allow_blank=True)
    lastName = serializers.CharField(allow_blank=True)
    middleName = serializers.CharField(allow_blank=True)
    nickName = serializers.CharField(allow_blank=True)
    gender = serializers.ChoiceField(Gender.choices, allow_null=True)
    birthDate = serializers.DateField(allow_null=True)
    address = serializers.CharField(allow_blank=True)
    city = serializers.CharField(allow_blank=True)
    country = serializers.CharField(allow_blank=True)
    preferredLanguage = serializers.CharField(allow_null=True)
    profilePicture = serializers.CharField(allow_blank=True)
    origin = serializers.ChoiceField(Origin.choices)
    modifiedFrom = serializers.ChoiceField(Origin.choices)
    tags = serializers.ListField(child=serializers.CharField())
    customAttributes = serializers.DictField()
    contactInformation = ContactInformationSerializer()
    company = serializers.CharField(allow_null=True, help_text="The person's company id, as a string.")
    infobipId = serializers.IntegerField(allow_null=True, help_text="Infobip's id once pushed.")
    syncStatus = serializers.ChoiceField(SyncStatus.choices)
    syncError = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "Person"


class PersonLookupSerializer(PersonSerializer):
    mergedFrom = serializers.IntegerField(
        required=False,
        help_text="Only when the id asked for belongs to a person merged into this one: that id. The answer is "
        "the survivor (its id is `id`); the header Content-Location names the survivor's URL.",
    )

    class Meta:
        ref_name = "PersonLookup"


class MergeKeepSerializer(serializers.Serializer):
    phones = serializers.ListField(child=serializers.CharField(), required=False, help_text="Numbers as stored.")
    emails = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="Exact tag names.")


class PersonMergeRequestSerializer(serializers.Serializer):
    survivor = serializers.IntegerField(help_text="The person that stays (Infobip's default: the earliest created).")
    others = serializers.ListField(
        child=serializers.IntegerField(), min_length=1, max_length=9, help_text="The persons merged into it."
    )
    choices = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Field → the person whose value wins: `firstName`, `lastName`, … `company`, or "
        "`customAttributes.<name>`. Fields not named follow Infobip's rules (a Customer's value beats a Lead's, "
        "then the most recently modified); a value present in one profile only is taken.",
    )
    keep = MergeKeepSerializer(
        required=False,
        help_text="Only these phones/emails/tags end up on the survivor (default: all of every profile). At least "
        "one phone or email must be kept.",
    )
    dryRun = serializers.BooleanField(required=False, default=False, help_text="Answer the would-be result only.")

    class Meta:
        ref_name = "PersonMergeRequest"


class PersonMergeSerializer(serializers.Serializer):
    survivor = PersonSerializer(help_text="The survivor after the merge (with dryRun: as it would be).")
    absorbed = serializers.ListField(child=serializers.IntegerField(), help_text="Ids now aliases of the survivor.")
    mergeRecord = serializers.IntegerField(allow_null=True, help_text="The merge's record (undo); null for dryRun.")
    dryRun = serializers.BooleanField()
    choices = serializers.DictField(child=serializers.IntegerField(), help_text="Whose value each field took.")
    kept = MergeKeepSerializer(help_text="The phones, emails and tags of the survivor after the merge.")

    class Meta:
        ref_name = "PersonMerge"


class PersonMergeUndoSerializer(serializers.Serializer):
    mergeRecord = serializers.IntegerField()
    survivor = PersonSerializer()
    restored = PersonSerializer(many=True, help_text="The absorbed persons, back as they were.")
    kept = serializers.ListField(
        child=serializers.CharField(), help_text="Survivor values changed since the merge, which stay."
    )
    notes = serializers.ListField(child=serializers.CharField(), help_text="What was deleted since and is lost.")

    class Meta:
        ref_name = "PersonMergeUndo"


class PersonListSerializer(serializers.Serializer):
    persons = PersonSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    createdAt = serializers.CharField()
    modifiedAt = serializers.CharField()

    class Meta:
        ref_name = "Tag"


class TagWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=256)


class TagListSerializer(serializers.Serializer):
    tags = TagSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class CustomAttributeSerializer(serializers.Serializer):
    name = serializers.CharField()
    dataType = serializers.ChoiceField(DataType.choices)
    objectSchema = serializers.DictField(
        child=serializers.CharField(), allow_null=True, help_text="LIST_OF_OBJECTS only: field → data type."
    )
    createdAt = serializers.CharField()
    modifiedAt = serializers.CharField()

    class Meta:
        ref_name = "CustomAttribute"


class CustomAttributeWriteSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="No { } [ ]; at most 256 characters.")
    dataType = serializers.ChoiceField(DataType.choices)
    objectSchema = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)


class CustomAttributeListSerializer(serializers.Serializer):
    customAttributes = CustomAttributeSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class EventFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(EVENT_FIELD_TYPE_CHOICES)
    schema = serializers.DictField(required=False, help_text="List fields: {type: Object, fields: [...]}")


class EventDefinitionSerializer(serializers.Serializer):
    definitionId = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    fields = EventFieldSerializer(many=True)
    createdAt = serializers.CharField()
    modifiedAt = serializers.CharField()

    class Meta:
        ref_name = "EventDefinition"


class EventDefinitionWriteSerializer(serializers.Serializer):
    definitionId = serializers.CharField(help_text="1..36 letters and digits.")
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    fields = EventFieldSerializer(many=True, required=False)


class EventDefinitionPatchSerializer(serializers.Serializer):
    title = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    fields = EventFieldSerializer(many=True, required=False, help_text="All fields: the current ones plus new ones.")

    class Meta:
        ref_name = "EventDefinitionPatch"


class EventDefinitionListSerializer(serializers.Serializer):
    definitions = EventDefinitionSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class EventDataSerializer(serializers.Serializer):
    properties = serializers.DictField(required=False, help_text="Must fit the event definition's fields.")
    eventId = serializers.CharField(required=False, help_text="Optional de-duplication id (1..36 of A-Za-z0-9_-).")


class EventWriteSerializer(serializers.Serializer):
    data = EventDataSerializer()


class EventSerializer(serializers.Serializer):
    eventId = serializers.CharField()
    definitionId = serializers.CharField()
    personId = serializers.CharField(help_text="The identifier Infobip will know the person by.")
    personIdentifierType = serializers.ChoiceField(["EMAIL", "PHONE", "EXTERNAL_ID", "ID"])
    occurredTime = serializers.CharField()
    properties = serializers.DictField()

    class Meta:
        ref_name = "Event"


# ------------------------------------------------------------------------------- contacts and tags (batch)

CONTACT_KINDS = {"phone": ("phones", "remove_phones"), "email": ("emails", "remove_emails")}
BATCH_MAX = 100


def _string_list(value: Any, field: str, errors: ErrorCollector) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add(field, "must be a list of strings")
        return []
    if len(value) > BATCH_MAX:
        errors.add(field, f"at most {BATCH_MAX} items")
    return value


def contacts_batch_args(data: dict[str, Any]) -> dict[str, Any]:
    """`{"add": {"phone": [...], "email": [...]}, "remove": {...}}` → person_update's contact arguments."""
    errors = ErrorCollector()
    args: dict[str, Any] = {}
    for key in sorted(set(data) - {"add", "remove"}):
        errors.add(key, "is not a contacts field; send add and/or remove")
    for part in ("add", "remove"):
        value = data.get(part) or {}
        if not isinstance(value, dict):
            errors.add(part, "must be an object of phone/email → list")
            continue
        for kind in sorted(set(value) - set(CONTACT_KINDS)):
            errors.add(f"{part}.{kind}", "is not a contact kind; use phone or email")
        for kind, (add_name, remove_name) in CONTACT_KINDS.items():
            items = _string_list(value.get(kind), f"{part}.{kind}", errors)
            if items:
                args[add_name if part == "add" else remove_name] = items
    errors.raise_if_any()
    return args


def tags_batch_args(data: dict[str, Any]) -> dict[str, Any]:
    """`{"add": [...], "remove": [...]}` → person_update's tag arguments."""
    errors = ErrorCollector()
    for key in sorted(set(data) - {"add", "remove"}):
        errors.add(key, "is not a tags field; send add and/or remove")
    add = _string_list(data.get("add"), "add", errors)
    remove = _string_list(data.get("remove"), "remove", errors)
    errors.raise_if_any()
    return {"tags": add or None, "remove_tags": remove}


class ContactListSerializer(serializers.Serializer):
    phone = serializers.ListField(child=serializers.CharField(), required=False)
    email = serializers.ListField(child=serializers.CharField(), required=False)


class ContactsBatchSerializer(serializers.Serializer):
    add = ContactListSerializer(required=False, help_text="Added (already there: nothing happens).")
    remove = ContactListSerializer(required=False, help_text="Removed (not there: nothing happens).")

    class Meta:
        ref_name = "PersonContactsBatch"


class TagsBatchSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(), required=False, help_text="Unknown names are created.")
    remove = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        ref_name = "PersonTagsBatch"


class EventListSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class EventIdentifierSerializer(serializers.Serializer):
    type = serializers.ChoiceField(["EMAIL", "PHONE", "EXTERNAL_ID"])
    value = serializers.CharField()


class EventByIdentifierWriteSerializer(serializers.Serializer):
    identifier = EventIdentifierSerializer()
    createPerson = serializers.BooleanField(
        required=False, default=False, help_text="No person has the identifier: create one (a Customer)."
    )
    data = EventDataSerializer()

    class Meta:
        ref_name = "EventByIdentifierWrite"


class EventByIdentifierSerializer(EventSerializer):
    person = serializers.CharField(help_text="Our id of the person, as a string.")
    personCreated = serializers.BooleanField(help_text="Whether createPerson created it.")

    class Meta:
        ref_name = "EventByIdentifier"


def event_by_identifier_args(data: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /v1/identities/persons/events/:definitionId → person_event_record_by_identifier's
    arguments (without realm and definition)."""
    errors = ErrorCollector()
    for key in sorted(set(data) - {"identifier", "createPerson", "data"}):
        errors.add(key, "is not a field; send identifier, createPerson and data")
    identifier = data.get("identifier")
    if not isinstance(identifier, dict) or set(identifier) - {"type", "value"}:
        errors.add("identifier", 'must be {"type": "EMAIL|PHONE|EXTERNAL_ID", "value": "..."}')
        identifier = {}
    create = data.get("createPerson", False)
    if not isinstance(create, bool):
        errors.add("createPerson", "must be true or false")
    errors.raise_if_any()
    event = event_args({"data": data.get("data", {})})
    return {
        "identifier_type": identifier.get("type"),
        "value": identifier.get("value"),
        "create_person": create,
        **event,
    }
