"""Saved segments: a named persons filter (Infobip's filter language) whose members are read live.

Writes are one transaction each; a segment's filter is checked when it is saved (it must parse and name only
known tags' and custom attributes' shapes), and is applied again on every read, so the count is always now's."""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from core.errors import ErrorCollector, NotFound, ValidationError
from infobip.contract import filters
from people.filtering import person_filter_q
from people.models import NAME_MAX, CustomAttributeDefinition, DataType, Segment
from people.selectors import person_list

MSG_SEGMENT_NAME_TAKEN = "a segment named {name!r} already exists"


def _clean(realm, name, filter_raw, errors: ErrorCollector) -> tuple[str, str]:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors.add("name", "is required")
    elif len(name) > NAME_MAX:
        errors.add("name", f"is longer than {NAME_MAX} characters")
    if not isinstance(filter_raw, str) or not filter_raw.strip():
        errors.add("filter", "is required: a persons filter in Infobip's filter language")
        filter_raw = ""
    else:
        try:
            person_filter_q(realm, filter_raw)
        except ValidationError as exc:
            errors.merge(exc)
    return name, filter_raw


def segment_create(*, realm, name: str, filter_raw: str) -> Segment:
    errors = ErrorCollector()
    name, filter_raw = _clean(realm, name, filter_raw, errors)
    errors.raise_if_any()
    if Segment.objects.filter(realm=realm, name__iexact=name).exists():
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=name), code="conflict")
    try:
        with transaction.atomic():
            return Segment.objects.create(realm=realm, name=name, filter=filter_raw)
    except IntegrityError:  # created concurrently under the same name
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=name), code="conflict") from None


def segment_update(*, segment: Segment, name: str | None = None, filter_raw: str | None = None) -> Segment:
    """Rename a segment and/or change its filter (None: unchanged); the same checks as segment_create."""
    errors = ErrorCollector()
    clean_name, clean_filter = _clean(
        segment.realm,
        segment.name if name is None else name,
        segment.filter if filter_raw is None else filter_raw,
        errors,
    )
    errors.raise_if_any()
    taken = Segment.objects.filter(realm=segment.realm, name__iexact=clean_name).exclude(pk=segment.pk)
    if taken.exists():
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=clean_name), code="conflict")
    try:
        with transaction.atomic():
            locked = Segment.objects.select_for_update().get(pk=segment.pk)
            locked.name, locked.filter = clean_name, clean_filter
            locked.save(update_fields=["name", "filter", "modified"])
    except IntegrityError:  # renamed concurrently to the same name
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=clean_name), code="conflict") from None
    locked.realm = segment.realm
    return locked


def segment_q(realm, segment_id: Any):
    """The Q of a realm's segment by id (the `segment` parameter of the export): NotFound when not its own."""
    segment = segment_get(realm, segment_id)
    return person_filter_q(realm, segment.filter)


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    Segment.objects.filter(pk=segment.pk).delete()


def segment_get(realm, segment_id: int) -> Segment:
    segment = Segment.objects.filter(realm=realm, pk=segment_id).first()
    if segment is None:
        raise NotFound(f"segment {segment_id} does not exist")
    return segment


def segment_check_filter(realm, filter_raw: str) -> None:
    """ValidationError (on `filter`) when the filter is not one the persons list can apply in this realm."""
    person_filter_q(realm, filter_raw)


def filter_count(realm, filter_raw: str) -> int:
    """How many of the realm's persons a filter matches now (the builder's live count)."""
    return person_list(realm, filter_raw).order_by().count()


def segment_persons(segment: Segment) -> QuerySet:
    """The segment's members now (active persons of its realm matching its filter)."""
    return person_list(segment.realm, segment.filter)


def segment_count(segment: Segment) -> int:
    return segment_persons(segment).order_by().count()


# ----------------------------------------------------------------------------- the admin's filter builder
# A segment built in the admin is a list of conditions (field, operator, value) joined by "all" (#and) or "any"
# (#or); it becomes Infobip's filter language here, so staff never type the JSON.

OPERATOR_LABELS = {
    "#eq": "is", "#ne": "is not", "#contains": "contains", "#notContain": "does not contain",
    "#startsWith": "starts with", "#endsWith": "ends with", "#gt": "after / more than", "#gte": "from / at least",
    "#lt": "before / less than", "#lte": "until / at most",
}  # fmt: skip
_TEXT = ["#eq", "#ne", "#contains", "#notContain", "#startsWith", "#endsWith"]
_ORDER = ["#eq", "#ne", "#gt", "#gte", "#lt", "#lte"]
KIND_OPERATORS = {
    filters.FieldKind.STRING: _TEXT, filters.FieldKind.NUMBER: _ORDER, filters.FieldKind.DATE: _ORDER,
    filters.FieldKind.DATETIME: _ORDER, filters.FieldKind.ENUM: ["#eq", "#ne"],
    filters.FieldKind.LIST: ["#contains", "#notContain"], filters.FieldKind.CUSTOM: [*_TEXT, *_ORDER[2:]],
}  # fmt: skip
CUSTOM_NUMBER_TYPES = {"DECIMAL", "INTEGER"}
MATCH_ALL, MATCH_ANY = "all", "any"


def builder_fields(realm_ids) -> dict[str, dict[str, Any]]:
    """Every field a condition can name: the persons' standard fields and the realms' custom attributes, each
    with its operators (and choices, for enums)."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in filters.PERSON_FIELDS.items():
        out[name] = {"label": name, "kind": str(spec.kind), "operators": KIND_OPERATORS[spec.kind],
                     "choices": sorted(spec.choices)}  # fmt: skip
    definitions = CustomAttributeDefinition.objects.filter(realm_id__in=realm_ids).exclude(
        data_type=DataType.LIST_OF_OBJECTS
    )
    for definition in definitions.order_by("name"):
        key = filters.CUSTOM_ATTRIBUTE_PREFIX + definition.name
        ops = _ORDER if definition.data_type in (*CUSTOM_NUMBER_TYPES, "DATE", "DATE_TIME") else _TEXT
        if definition.data_type == DataType.BOOLEAN:
            ops = ["#eq", "#ne"]
        out[key] = {"label": f"{definition.name} (custom)", "kind": definition.data_type, "operators": ops,
                    "choices": ["true", "false"] if definition.data_type == DataType.BOOLEAN else []}  # fmt: skip
    return out


def _typed(field: dict[str, Any], raw: str, errors: ErrorCollector, where: str) -> Any:
    kind = field["kind"]
    if kind in ("number", *CUSTOM_NUMBER_TYPES):
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            errors.add(where, f"{raw!r} is not a number")
            return None
    if kind == DataType.BOOLEAN:
        if raw.lower() not in ("true", "false"):
            errors.add(where, "must be true or false")
        return raw.lower() == "true"
    return raw


def filter_from_conditions(
    *, match: str, conditions: list[tuple[str, str, str]], fields: dict[str, dict[str, Any]]
) -> str:
    """The filter (Infobip's language, as JSON text) of builder conditions; ValidationError keyed
    `conditions[i]` for a field, operator or value that does not fit."""
    errors = ErrorCollector()
    clauses = []
    for index, (name, op, raw) in enumerate(conditions):
        where = f"conditions[{index}]"
        field = fields.get(name)
        if field is None:
            errors.add(where, f"{name!r} is not a field a segment can filter on")
            continue
        if op not in field["operators"]:
            errors.add(where, f"{OPERATOR_LABELS.get(op, op)!r} does not apply to {name}")
            continue
        if field["choices"] and raw not in field["choices"]:
            errors.add(where, f"{name} is one of {', '.join(field['choices'])}")
            continue
        value = _typed(field, raw.strip(), errors, where)
        clauses.append({op: {name: value}})
    if not clauses and not errors:
        errors.add("conditions", "add at least one condition")
    errors.raise_if_any()
    if len(clauses) == 1:
        return json.dumps(clauses[0], ensure_ascii=False)
    return json.dumps({"#and" if match == MATCH_ALL else "#or": clauses}, ensure_ascii=False)


def conditions_from_filter(filter_raw: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """The builder's (match, conditions) of a filter it could have built, else None (shown as text only)."""
    try:
        tree = json.loads(filter_raw)
    except (TypeError, ValueError):
        return None
    match = MATCH_ALL
    if isinstance(tree, dict) and len(tree) == 1 and next(iter(tree)) in ("#and", "#or"):
        match = MATCH_ALL if "#and" in tree else MATCH_ANY
        tree = next(iter(tree.values()))
    clauses = tree if isinstance(tree, list) else [tree]
    out = []
    for clause in clauses:
        if not isinstance(clause, dict) or len(clause) != 1:
            return None
        ((op, body),) = clause.items()
        if not op.startswith("#"):  # the equality shorthand {"city": "Zagreb"}
            op, body = "#eq", {op: body}
        if not isinstance(body, dict) or len(body) != 1:
            return None
        ((name, value),) = body.items()
        if isinstance(value, dict | list):
            return None
        out.append((name, op, "true" if value is True else "false" if value is False else str(value)))
    return match, out
