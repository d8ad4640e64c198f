"""Admin form pieces for persons and companies: one widget per custom attribute data type."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ErrorCollector, ValidationError
from people import validation
from people.fields import PERSON_ATTRIBUTES
from people.models import CUSTOM_ATTRIBUTE_VALUE_MAX, CustomAttributeDefinition, DataType

CUSTOM_PREFIX = "ca__"


def custom_field_name(definition: CustomAttributeDefinition) -> str:
    return f"{CUSTOM_PREFIX}{definition.pk}"


class ListOfObjectsField(forms.JSONField):
    """A JSON textarea that shows no value as an empty editor, not the literal `null`."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


def custom_attribute_field(definition: CustomAttributeDefinition) -> forms.Field:
    label = definition.name
    help_text = definition.get_data_type_display()
    kind = definition.data_type
    if kind == DataType.STRING:
        return forms.CharField(label=label, required=False, max_length=CUSTOM_ATTRIBUTE_VALUE_MAX, help_text=help_text)
    if kind == DataType.DECIMAL:
        return forms.DecimalField(label=label, required=False, help_text=help_text)
    if kind == DataType.INTEGER:
        return forms.IntegerField(label=label, required=False, help_text=help_text)
    if kind == DataType.BOOLEAN:
        return forms.NullBooleanField(label=label, required=False, help_text=help_text)
    if kind == DataType.DATE:
        return forms.DateField(label=label, required=False, widget=admin_widgets.AdminDateWidget, help_text=help_text)
    if kind == DataType.DATE_TIME:
        return forms.SplitDateTimeField(
            label=label, required=False, widget=admin_widgets.AdminSplitDateTime, help_text=help_text
        )
    schema = ", ".join(f"{k}: {v}" for k, v in (definition.object_schema or {}).items())
    # cdpadmin/admin.js turns the textarea into a table of the schema's fields (one row per object); without
    # JavaScript it stays a JSON textarea.
    attrs = {"rows": 4, "cols": 60, "data-object-schema": json.dumps(definition.object_schema or {})}
    return ListOfObjectsField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs=attrs),
        help_text=f"A JSON list of objects with {schema}",
    )


def custom_attribute_fields(definitions: list[CustomAttributeDefinition]) -> dict[str, forms.Field]:
    return {custom_field_name(d): custom_attribute_field(d) for d in definitions}


def custom_attribute_initial(values: dict[str, Any], definitions: list[CustomAttributeDefinition]) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for definition in definitions:
        value = values.get(definition.name)
        if value is None:
            continue
        if definition.data_type == DataType.DATE and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = dt.date.fromisoformat(value)
        elif definition.data_type == DataType.DATE_TIME and isinstance(value, str):
            parsed = parse_datetime(value)
            value = timezone.localtime(parsed) if parsed and timezone.is_aware(parsed) else parsed or value
        initial[custom_field_name(definition)] = value
    return initial


def custom_attribute_values(cleaned: dict[str, Any], definitions: list[CustomAttributeDefinition]) -> dict[str, Any]:
    """Form values → JSON values (None removes the attribute)."""
    values: dict[str, Any] = {}
    for definition in definitions:
        name = custom_field_name(definition)
        if name not in cleaned:
            continue
        value = cleaned[name]
        if value in ("", []) and definition.data_type != DataType.LIST_OF_OBJECTS:
            value = None
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, (dt.datetime, dt.date)):
            value = value.isoformat()
        values[definition.name] = value
    return values


def add_service_errors(form: forms.BaseForm, error: ValidationError, definitions=()) -> None:
    """Put a service's field errors (API names) on the matching form fields, the rest on the form."""
    by_custom_name = {f"customAttributes.{d.name}": custom_field_name(d) for d in definitions}
    for field, reasons in error.fields.items():
        target = PERSON_ATTRIBUTES.get(field) or by_custom_name.get(field)
        target = target if target in form.fields else None
        for reason in reasons:
            form.add_error(target, reason if target else f"{field}: {reason}")


def check_custom_attributes(form: forms.BaseForm, definitions: list[CustomAttributeDefinition]) -> dict[str, Any]:
    values = custom_attribute_values(form.cleaned_data, definitions)
    errors = ErrorCollector()
    cleaned = validation.clean_custom_attributes(values, {d.name: d for d in definitions}, errors)
    if errors:
        add_service_errors(form, ValidationError(errors.fields), definitions)
    return cleaned


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
