"""Identity JSON at the API's edge: request bodies → service arguments, and the documented shapes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from companies.models import Company
from core.errors import ErrorCollector, ValidationError
from identities.ids import parse_object_id
from identities.models import IdentityType
from people.selectors import person_resolve
from people.serializers import PersonWriteSerializer

IDENTITY_READ_ONLY = {"id", "created_at", "error"}


def resolve_link(realm, field: str, value: Any, errors: ErrorCollector) -> Any:
    """The person/company a body names, None for null; ids of other realms look like unknown ids."""
    if value is None:
        return None
    object_id = parse_object_id(value)
    found = None
    if object_id is not None:
        if field == "person":
            found = person_resolve(realm, object_id)
        else:
            found = Company.objects.filter(realm=realm, pk=object_id).first()
    if found is None:
        errors.add(field, f"{field} {str(value)[:40]!r} does not exist")
    return found


def company_lookup(realm):
    """PersonWriteSerializer.parse's `company_of`: a company id of `realm` (None for null), else a field error."""
    return lambda value, errors, field: resolve_link(realm, field, value, errors)


def identity_args(realm, data: dict[str, Any], *, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """An identity body → identity_create/identity_update keyword arguments (person/company resolved).

    Other keys go to the service as they are: it validates every field and names the unknown ones.
    """
    errors = ErrorCollector()
    args: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("person", "company"):
            args[key] = resolve_link(realm, key, value, errors)
        elif key not in IDENTITY_READ_ONLY and key not in extra:
            args[key] = value
    errors.raise_if_any()
    return args


# --------------------------------------------------------------------------------------------- documentation


@extend_schema_field({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Person"}, {"type": "null"}]})
class PersonReferenceField(serializers.Field):
    """The person's id as a string, or the whole person with ?populate=person, or null."""


@extend_schema_field({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Company"}, {"type": "null"}]})
class CompanyReferenceField(serializers.Field):
    """The company's id as a string, or the whole company with ?populate=company, or null."""


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]})
class ObjectIdInputField(serializers.Field):
    """An id as an integer (3) or a string ("3"), as the source documents send both."""


class IdentitySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="24 lowercase hex characters.")
    owner = serializers.CharField(help_text="The owner (user) id, 24 hex characters.")
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2.")
    currency = serializers.CharField(help_text="ISO 4217.")
    type = serializers.ChoiceField(IdentityType.choices)
    alias = serializers.CharField(allow_blank=True)
    person = PersonReferenceField()
    company = CompanyReferenceField()
    data = serializers.DictField()
    created_at = serializers.CharField(help_text="Epoch milliseconds, as a string.")
    error = serializers.CharField(allow_null=True, help_text="Always null on success.")

    class Meta:
        ref_name = "Identity"


class IdentityListSerializer(serializers.Serializer):
    identities = IdentitySerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


class IdentityWriteSerializer(serializers.Serializer):
    type = serializers.ChoiceField(IdentityType.choices, required=False, help_text="Default neutral.")
    country = serializers.CharField(required=False, allow_null=True, help_text="Default: the realm's.")
    currency = serializers.CharField(required=False, allow_null=True, help_text="Default: the realm's.")
    alias = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    data = serializers.DictField(required=False, allow_null=True)
    owner = serializers.CharField(required=False, help_text="Default: the API key's owner.")
    person = ObjectIdInputField(required=False, allow_null=True, help_text="A person id of the realm, or null.")
    company = ObjectIdInputField(required=False, allow_null=True, help_text="A company id of the realm, or null.")

    class Meta:
        ref_name = "IdentityWrite"


class IdentityPersonWriteSerializer(IdentityWriteSerializer):
    person = PersonWriteSerializer(help_text="The new person: standard attributes, tags, customAttributes, contacts.")

    class Meta:
        ref_name = "IdentityPersonWrite"

    @classmethod
    def parse(cls, realm, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """This body → (identity_create_with_person's identity arguments, its person_args)."""
        if "person" not in data:
            raise ValidationError.single("person", "is required: the person to create")
        person = PersonWriteSerializer.parse(data["person"], prefix="person.", company_of=company_lookup(realm))
        return identity_args(realm, {key: value for key, value in data.items() if key != "person"}), person
