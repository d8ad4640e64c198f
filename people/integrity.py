"""Constraint violations that slipped past the service checks (a race), as the field errors the checks give."""

from __future__ import annotations

from django.db import IntegrityError

from core.errors import ValidationError

CONSTRAINT_FIELDS = {
    "phone_unique_per_realm": ("contactInformation.phone", "a phone number already belongs to another person"),
    "email_unique_per_realm_ci": ("contactInformation.email", "an email address already belongs to another person"),
    "person_external_id_unique": ("externalId", "externalId already belongs to another person"),
    "tag_name_unique_ci": ("name", "a tag with this name already exists"),
    "custom_attribute_name_unique": ("name", "a custom attribute with this name already exists"),
    "event_definition_unique": ("definitionId", "an event definition with this id already exists"),
    "person_event_id_unique": ("eventId", "an event with this eventId already exists"),
    "company_name_unique_ci": ("name", "a company with this name already exists"),
}


def integrity_error_as_validation(exc: IntegrityError) -> ValidationError:
    """Turn a constraint violation that slipped past the service checks (a race) into a field error."""
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    field, reason = CONSTRAINT_FIELDS.get(constraint or "", ("non_field_errors", "conflicts with existing data"))
    return ValidationError({field: [reason]}, code="conflict")
