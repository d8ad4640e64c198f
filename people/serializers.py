"""Shapes of person JSON at the API's edge. The `*_args` functions turn a request body into a service call's
arguments (names and structure only: the services validate values); the Serializer classes describe the JSON
for the OpenAPI document (responses are rendered by people.representation, which the schema tests check)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cdpadmin.errors import ErrorCollector, ValidationError
from people.fields import PERSON_ATTRIBUTES
from people.models import Channel, DataType, Gender, Origin, PersonType, SyncStatus
from people.services import EVENT_FIELD_TYPE_CHOICES

PERSON_READ_ONLY = {
    "id", "createdAt", "modifiedAt", "origin", "modifiedFrom", "company", "infobipId", "syncStatus", "syncError",
    "computedAttributes", "integrations",
}  # fmt: skip
WRITABLE_CONTACTS = {"phone", "email"}


def person_args(data: Any, *, prefix: str = "") -> dict[str, Any]:
    """A person body (Infobip's IamPersonV2 shape) → keyword arguments of person_create/person_update.

    Read-only fields (as returned by GET) are ignored, so a fetched person can be sent back. Read-only channel
    profiles in contactInformation are passed on as preview data.
    """
    errors = ErrorCollector()
    if not isinstance(data, dict):
        raise ValidationError.single(prefix.rstrip(".") or "body", "must be a JSON object")
    args: dict[str, Any] = {"attributes": {}}
    for key, value in data.items():
        if key in PERSON_ATTRIBUTES:
            args["attributes"][PERSON_ATTRIBUTES[key]] = value
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
        elif key not in PERSON_READ_ONLY:
            errors.add(f"{prefix}{key}", "is not a person field")
    errors.raise_if_any()
    return args


def _contact_args(value: Any, args: dict[str, Any], errors: ErrorCollector, field: str) -> None:
    if not isinstance(value, dict):
        errors.add(field, "must be an object of channel → list")
        return
    profiles = {}
    for channel, items in value.items():
        if channel not in WRITABLE_CONTACTS and channel not in Channel.values:
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


def tag_args(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"name", "id", "createdAt", "modifiedAt"})
    if unknown:
        raise ValidationError({key: ["is not a tag field"] for key in unknown})
    return {"name": data.get("name")}


def custom_attribute_args(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"name", "dataType", "objectSchema", "createdAt", "modifiedAt"})
    if unknown:
        raise ValidationError({key: ["is not a custom attribute field"] for key in unknown})
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
    number = serializers.CharField(help_text="International digits without '+', e.g. 41793026727.")


class EmailSerializer(serializers.Serializer):
    address = serializers.CharField()


class ContactInformationSerializer(serializers.Serializer):
    phone = PhoneSerializer(many=True, required=False)
    email = EmailSerializer(many=True, required=False)
    push = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only (preview).")
    facebook = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    line = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    instagram = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    liveChat = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    webpush = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    telegram = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")
    whatsapp = serializers.ListField(child=serializers.DictField(), required=False, help_text="Read-only.")


class PersonWriteSerializer(serializers.Serializer):
    externalId = serializers.CharField(**NULLABLE_TEXT)
    type = serializers.ChoiceField(PersonType.choices, required=False)
    firstName = serializers.CharField(required=False, help_text='Not: & < > " / \\ : ( ) { } = ; # line breaks')
    lastName = serializers.CharField(required=False)
    middleName = serializers.CharField(required=False)
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

    class Meta:
        ref_name = "PersonWrite"


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Our id of the person (the mirror's).")
    createdAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    modifiedAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    externalId = serializers.CharField(allow_null=True)
    type = serializers.ChoiceField(PersonType.choices)
    firstName = serializers.CharField(allow_blank=True)
    lastName = serializers.CharField(allow_blank=True)
    middleName = serializers.CharField(allow_blank=True)
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
