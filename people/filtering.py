"""Infobip's filter language (parsed by infobip.contract.filters) translated to Django Q objects over our mirror.

The semantics follow the parser's documented choices (infobip/contract/filters.py), so the API answers what the
Infobip sandbox would: `#eq`/`#ne` exact, text operators case-insensitive, `#contains` on tags = the exact tag
name (case-insensitive here, like tag names themselves), a timestamp compares at Infobip's one-second
resolution and a date against a timestamp compares the day (UTC), a missing value matches only `#ne` and
`#notContain`. Custom attributes (`customAttributes.<name>`) must be defined in the realm; the filter value
must fit the definition's data type.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.db.models import CharField, Exists, Func, JSONField, OuterRef, Q, TextField, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Coalesce, Collate, Lower
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)

from core.api.parsers import bad_text
from core.errors import ValidationError
from infobip.contract import filters
from infobip.contract.filters import And, Condition, FieldKind, FilterError, Node, Op
from people import validation
from people.models import CustomAttributeDefinition, DataType, Person, Tag

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
TEXT_LOOKUPS = {Op.CONTAINS: "icontains", Op.NOT_CONTAIN: "icontains", Op.STARTS_WITH: "istartswith",
                Op.ENDS_WITH: "iendswith"}  # fmt: skip
TEXT_LOOKUP_CLASSES = {Op.CONTAINS: IContains, Op.NOT_CONTAIN: IContains, Op.STARTS_WITH: IStartsWith,
                       Op.ENDS_WITH: IEndsWith}  # fmt: skip
ORDER_LOOKUPS = {Op.GT: "gt", Op.GTE: "gte", Op.LT: "lt", Op.LTE: "lte"}
ORDER_LOOKUP_CLASSES = {Op.GT: GreaterThan, Op.GTE: GreaterThanOrEqual, Op.LT: LessThan, Op.LTE: LessThanOrEqual}
NUMERIC_TYPES = {DataType.INTEGER, DataType.DECIMAL}
TEXT_TYPES = {DataType.STRING, DataType.DATE, DataType.DATE_TIME}
NOTHING = Q(pk__in=[])
EVERYTHING = ~NOTHING  # not Q(): an empty Q vanishes from an OR instead of matching everything

PERSON_COLUMNS = {
    "id": "pk",
    "externalId": "external_id",
    "firstName": "first_name",
    "lastName": "last_name",
    "middleName": "middle_name",
    "nickName": "nick_name",
    "gender": "gender",
    "birthDate": "birth_date",
    "address": "address",
    "city": "city",
    "country": "country",
    "preferredLanguage": "preferred_language",
    "profilePicture": "profile_picture",
    "type": "type",
    "origin": "origin",
    "modifiedFrom": "modified_from",
    "createdAt": "created",
    "modifiedAt": "modified",
}


def invalid_filter(message: str) -> ValidationError:
    return ValidationError({"filter": [message]}, message=f"Invalid filter: {message}", code="invalid_filter")


def check_filter_text(raw: str) -> None:
    """Refuse a filter whose JSON holds a string PostgreSQL cannot take (a lone surrogate such as "\\ud800", a
    NUL), before the parser echoes it into a message or a query: 400 on `filter`."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return  # malformed: the filter parser says how
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reasons = [bad_text(item)]
        elif isinstance(item, dict):
            reasons = [bad_text(key) for key in item]
            stack.extend(item.values())
        elif isinstance(item, list):
            reasons = []
            stack.extend(item)
        else:
            reasons = []
        if reason := next((reason for reason in reasons if reason), None):
            raise invalid_filter(f"a value {reason}")


def _conditions(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for child in node.clauses:
            yield from _conditions(child)


class FilterTranslator:
    """One parsed filter → one Q. `columns` maps API fields to model fields; `list_fields` builds the Q of
    "the list field holds this exact value" for tags/domains."""

    def __init__(
        self,
        *,
        columns: Mapping[str, str],
        list_fields: Mapping[str, Callable[[str], Q]],
        definitions: Mapping[str, CustomAttributeDefinition],
    ) -> None:
        self.columns = columns
        self.list_fields = list_fields
        self.definitions = definitions

    def q(self, node: Node) -> Q:
        if isinstance(node, Condition):
            return self.condition(node)
        parts = [self.q(child) for child in node.clauses]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if isinstance(node, And) else combined | part
        return combined

    def condition(self, cond: Condition) -> Q:
        if isinstance(cond.value, float) and not math.isfinite(cond.value):
            raise invalid_filter(f"{cond.value} is not a finite number (at {cond.path})")
        if cond.kind == FieldKind.LIST:
            found = self.list_fields[cond.field](cond.value)
            return ~found if cond.op == Op.NOT_CONTAIN else found
        if cond.kind == FieldKind.CUSTOM:
            return self.custom(cond)
        column = self.columns[cond.field]
        if cond.kind == FieldKind.NUMBER:
            return self.number(column, cond)
        if cond.kind == FieldKind.DATETIME:
            return self.timestamp(column, cond)
        value: Any = cond.value
        if cond.kind == FieldKind.DATE:
            value = self.date(cond)
        if cond.op == Op.EQ:
            return Q(**{column: value})
        if cond.op == Op.NE:
            return ~Q(**{column: value})
        if cond.op in TEXT_LOOKUPS:
            found = Q(**{f"{column}__{TEXT_LOOKUPS[cond.op]}": value})
            return ~found if cond.op == Op.NOT_CONTAIN else found
        return Q(**{f"{column}__{ORDER_LOOKUPS[cond.op]}": value})

    @staticmethod
    def date(cond: Condition) -> dt.date:
        try:
            return dt.date.fromisoformat(str(cond.value))
        except ValueError:
            raise invalid_filter(f"{cond.value!r} is not a valid date (at {cond.path})") from None

    @staticmethod
    def number(column: str, cond: Condition) -> Q:
        value = cond.value
        if cond.op in (Op.EQ, Op.NE):
            matches = NOTHING if value != int(value) or not BIGINT_MIN <= value <= BIGINT_MAX else Q(**{column: value})
            return ~matches if cond.op == Op.NE else matches
        # Ids are integers: x > 3.5 is x >= 4, x <= 3.5 is x <= 3; bounds past bigint select all or nothing.
        if cond.op in (Op.GT, Op.GTE):
            low = math.floor(value) + 1 if cond.op == Op.GT and value == int(value) else math.ceil(value)
            if low > BIGINT_MAX:
                return NOTHING
            return EVERYTHING if low <= BIGINT_MIN else Q(**{f"{column}__gte": low})
        high = math.ceil(value) - 1 if cond.op == Op.LT and value == int(value) else math.floor(value)
        if high < BIGINT_MIN:
            return NOTHING
        return EVERYTHING if high >= BIGINT_MAX else Q(**{f"{column}__lte": high})

    @staticmethod
    def timestamp(column: str, cond: Condition) -> Q:
        """Infobip shows timestamps to the second (a day for a date value): compare at that resolution."""
        text = str(cond.value)
        try:
            if len(text) == 10:
                start = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
                unit = dt.timedelta(days=1)
            else:
                start = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
                unit = dt.timedelta(seconds=1)
        except ValueError:
            raise invalid_filter(f"{text!r} is not a valid date or timestamp (at {cond.path})") from None
        end = start + unit
        within = Q(**{f"{column}__gte": start, f"{column}__lt": end})
        return {
            Op.EQ: within,
            Op.NE: ~within,
            Op.GT: Q(**{f"{column}__gte": end}),
            Op.GTE: Q(**{f"{column}__gte": start}),
            Op.LT: Q(**{f"{column}__lt": start}),
            Op.LTE: Q(**{f"{column}__lt": end}),
        }[cond.op]

    def custom(self, cond: Condition) -> Q:
        name = cond.custom_attribute or ""
        definition = self.definitions.get(name)
        if definition is None:
            raise invalid_filter(f"customAttributes.{name} is not a defined custom attribute (at {cond.path})")
        data_type = definition.data_type
        if data_type == DataType.LIST_OF_OBJECTS:
            raise invalid_filter(
                f"customAttributes.{name} is a LIST_OF_OBJECTS and cannot be filtered (at {cond.path})"
            )
        if cond.op in TEXT_LOOKUP_CLASSES:
            if data_type not in TEXT_TYPES:
                raise invalid_filter(
                    f"{cond.op.value} cannot be used on customAttributes.{name} of type {data_type} (at {cond.path})"
                )
            text = Coalesce(KeyTextTransform(name, "custom_attributes"), Value(""), output_field=TextField())
            found = Q(custom_attributes__has_key=name) & Q(TEXT_LOOKUP_CLASSES[cond.op](text, cond.value))
            return ~found if cond.op == Op.NOT_CONTAIN else found
        try:
            value = validation.coerce_scalar(data_type, cond.value)
        except ValueError as exc:
            raise invalid_filter(f"customAttributes.{name}: {exc} (at {cond.path})") from None
        if cond.op in (Op.EQ, Op.NE):
            found = Q(custom_attributes__contains={name: value})
            return ~found if cond.op == Op.NE else found
        lookup = ORDER_LOOKUP_CLASSES[cond.op]
        if data_type in NUMERIC_TYPES:
            item = KeyTransform(name, "custom_attributes")
            is_number = Exact(Func(item, function="jsonb_typeof", output_field=CharField()), "number")
            return Q(is_number) & Q(lookup(item, Value(value, output_field=JSONField())))
        if data_type == DataType.BOOLEAN:
            raise invalid_filter(f"{cond.op.value} cannot be used on BOOLEAN customAttributes.{name} (at {cond.path})")
        # Dates and strings compare as text, byte by byte (ISO dates sort correctly that way).
        return Q(lookup(Collate(KeyTextTransform(name, "custom_attributes"), "C"), value))


def _parse(raw: str, parser: Callable[[str], Node]) -> Node:
    check_filter_text(raw)
    try:
        return parser(raw)
    except FilterError as exc:
        raise invalid_filter(str(exc)) from None


def definitions_for(realm, node: Node) -> dict[str, CustomAttributeDefinition]:
    names = {cond.custom_attribute for cond in _conditions(node) if cond.custom_attribute}
    if not names:
        return {}
    return {d.name: d for d in CustomAttributeDefinition.objects.filter(realm=realm, name__in=names)}


def tag_ids_for(realm, node: Node) -> dict[str, int]:
    """The realm's tags named in the filter's tag conditions: lower-cased name → id (one query)."""
    names = {str(c.value).lower() for c in _conditions(node) if c.kind == FieldKind.LIST and c.field == "tags"}
    if not names:
        return {}
    tags = Tag.objects.annotate(lname=Lower("name")).filter(realm=realm, lname__in=names)
    return dict(tags.values_list("lname", "id"))


def person_has_tag(tag_ids: Mapping[str, int]) -> Callable[[Any], Q]:
    """`#contains` on tags by the tag's id, resolved up front: with a constant id PostgreSQL knows how many
    persons carry the tag and joins the tag's links with the other conditions (a hash join) instead of probing
    every linked person (a nested loop over all of them)."""

    def has_tag(name: Any) -> Q:
        tag_id = tag_ids.get(str(name).lower())
        if tag_id is None:
            return NOTHING
        return Q(Exists(Person.tags.through.objects.filter(person_id=OuterRef("pk"), tag_id=tag_id)))

    return has_tag


def person_filter_q(realm, raw: str) -> Q:
    """The Q of a persons `filter` parameter; 400 (ValidationError on `filter`) saying what is wrong."""
    node = _parse(raw, filters.parse_person_filter)
    translator = FilterTranslator(
        columns=PERSON_COLUMNS,
        list_fields={"tags": person_has_tag(tag_ids_for(realm, node))},
        definitions=definitions_for(realm, node),
    )
    return translator.q(node)


__all__ = ["FilterTranslator", "check_filter_text", "definitions_for", "invalid_filter", "person_filter_q"]
