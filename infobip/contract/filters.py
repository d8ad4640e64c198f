"""Infobip's filter language (the ``filter`` query parameter of ``GET /people/2/persons`` and ``/companies``).

One parser, shared by the sandbox (which evaluates the tree in Python with :func:`evaluate`) and by our
REST API (which translates the same tree into a Django ``Q``). Parsing never guesses: anything it does
not understand raises :class:`FilterError` naming what is wrong and where (a JSONPath-like location).

The language, as Infobip's People API documentation describes it:

* logical ``{"#and": [clause, ...]}`` and ``{"#or": [clause, ...]}`` (non-empty arrays of objects);
* comparisons ``{"#op": {"field": value}}`` with ``#eq #ne #contains #notContain #startsWith #endsWith
  #gt #lt #gte #lte``; companies have no ``#notContain``;
* the equality shorthand ``{"firstName": "Alex"}``.

Choices where Infobip is silent (also in ``infobip/sandbox/README.md``):

* An object with several keys is the AND of its keys, like ``{"firstName": "A", "lastName": "B"}``;
  the same holds inside an operator object (``{"#ne": {"a": 1, "b": 2}}`` = both differ).
* Custom attributes are addressed as ``customAttributes.<name>`` (the name may contain spaces or dots
  after the prefix). The segments API spells them ``data\\u0001<name>``; that spelling is accepted too and
  parsed to the same ``customAttributes.<name>`` field. Their type is not known to the parser: any
  scalar value is accepted and comparison follows the value's type.
* ``#contains`` / ``#notContain`` on ``tags`` (and on other list fields such as company ``domains``)
  test membership of the exact value, not a substring.
* ``#eq`` / ``#ne`` compare exactly (case-sensitive); ``#contains``, ``#notContain``, ``#startsWith`` and
  ``#endsWith`` on strings ignore case.
* Dates are ``YYYY-MM-DD``; timestamps ``YYYY-MM-DDTHH:MM:SS`` (UTC, like Infobip's v2 models). A
  date compared with a timestamp field compares the timestamp's day.
* A record without the field: ``#ne`` and ``#notContain`` match, every other operator does not.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_OPERATORS",
    "COMPANY_FIELDS",
    "COMPANY_OPERATORS",
    "CUSTOM_ATTRIBUTE_PREFIX",
    "PERSON_FIELDS",
    "And",
    "Condition",
    "FieldKind",
    "FilterError",
    "Node",
    "Op",
    "Or",
    "compile_filter",
    "evaluate",
    "parse",
    "parse_company_filter",
    "parse_person_filter",
]

CUSTOM_ATTRIBUTE_PREFIX = "customAttributes."
SEGMENT_CUSTOM_ATTRIBUTE_PREFIX = "data\u0001"

Scalar = str | int | float | bool


class FilterError(ValueError):
    """The filter is not valid; ``message`` says what and ``path`` where (``$`` is the whole filter)."""

    def __init__(self, message: str, path: str = "$") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{message} (at {path})")


class Op(enum.StrEnum):
    EQ = "#eq"
    NE = "#ne"
    CONTAINS = "#contains"
    NOT_CONTAIN = "#notContain"
    STARTS_WITH = "#startsWith"
    ENDS_WITH = "#endsWith"
    GT = "#gt"
    LT = "#lt"
    GTE = "#gte"
    LTE = "#lte"


LOGICAL = ("#and", "#or")
ALL_OPERATORS: frozenset[Op] = frozenset(Op)
COMPANY_OPERATORS: frozenset[Op] = frozenset(Op) - {Op.NOT_CONTAIN}
TEXT_OPS = frozenset({Op.CONTAINS, Op.NOT_CONTAIN, Op.STARTS_WITH, Op.ENDS_WITH})
ORDER_OPS = frozenset({Op.GT, Op.LT, Op.GTE, Op.LTE})


class FieldKind(enum.StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    LIST = "list"  # list of strings (tags, domains): #contains/#notContain = exact membership
    CUSTOM = "custom"  # custom attribute: type decided by the value


@dataclass(frozen=True, slots=True)
class Field:
    kind: FieldKind
    choices: frozenset[str] = frozenset()


_KIND_OPS: dict[FieldKind, frozenset[Op]] = {
    FieldKind.STRING: frozenset({Op.EQ, Op.NE}) | TEXT_OPS,
    FieldKind.NUMBER: frozenset({Op.EQ, Op.NE}) | ORDER_OPS,
    FieldKind.DATE: frozenset({Op.EQ, Op.NE}) | ORDER_OPS,
    FieldKind.DATETIME: frozenset({Op.EQ, Op.NE}) | ORDER_OPS,
    FieldKind.ENUM: frozenset({Op.EQ, Op.NE}),
    FieldKind.LIST: frozenset({Op.CONTAINS, Op.NOT_CONTAIN}),
    FieldKind.CUSTOM: ALL_OPERATORS,
}

_ORIGINS = frozenset(
    [
        "API",
        "PORTAL",
        "WEB_SDK",
        "INTEGRATION",
        "PUSH",
        "FACEBOOK",
        "LINE",
        "TELEGRAM",
        "SALESFORCE",
        "DYNAMICS",
        "ZAPIER",
        "FORMS",
        "COMPUTED",
        "ANSWERS",
        "CONVERSATIONS",
    ]
)
_S = Field(FieldKind.STRING)

PERSON_FIELDS: Mapping[str, Field] = {
    "id": Field(FieldKind.NUMBER),
    "externalId": _S,
    "firstName": _S,
    "lastName": _S,
    "middleName": _S,
    "gender": Field(FieldKind.ENUM, frozenset({"MALE", "FEMALE"})),
    "birthDate": Field(FieldKind.DATE),
    "address": _S,
    "city": _S,
    "country": _S,
    "preferredLanguage": _S,
    "profilePicture": _S,
    "type": Field(FieldKind.ENUM, frozenset({"CUSTOMER", "LEAD"})),
    "origin": Field(FieldKind.ENUM, _ORIGINS),
    "modifiedFrom": Field(FieldKind.ENUM, _ORIGINS),
    "createdAt": Field(FieldKind.DATETIME),
    "modifiedAt": Field(FieldKind.DATETIME),
    "tags": Field(FieldKind.LIST),
}

COMPANY_FIELDS: Mapping[str, Field] = {
    "id": Field(FieldKind.NUMBER),
    "name": _S,
    "externalId": _S,
    "notes": _S,
    "country": _S,
    "region": _S,
    "accountManager": _S,
    "customerStage": _S,
    "industry": _S,
    "segment": _S,
    "vatNumber": _S,
    "origin": Field(FieldKind.ENUM, _ORIGINS),
    "modifiedFrom": Field(FieldKind.ENUM, _ORIGINS),
    "createdAt": Field(FieldKind.DATETIME),
    "modifiedAt": Field(FieldKind.DATETIME),
    "domains": Field(FieldKind.LIST),
    "tags": Field(FieldKind.LIST),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """``field <op> value``. ``field`` is a model field name or ``customAttributes.<name>``."""

    op: Op
    field: str
    value: Scalar
    kind: FieldKind
    path: str = "$"

    @property
    def custom_attribute(self) -> str | None:
        """The custom attribute's name when the condition is on one, else None."""
        if self.field.startswith(CUSTOM_ATTRIBUTE_PREFIX):
            return self.field[len(CUSTOM_ATTRIBUTE_PREFIX) :]
        return None


@dataclass(frozen=True, slots=True)
class And:
    clauses: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    clauses: tuple[Node, ...]


Node = Condition | And | Or

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _key_path(path: str, key: str) -> str:
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


class _Parser:
    def __init__(self, fields: Mapping[str, Field], operators: Iterable[Op], custom_attributes: bool) -> None:
        self.fields = fields
        self.operators = frozenset(operators)
        self.custom_attributes = custom_attributes

    def node(self, obj: Any, path: str) -> Node:
        if not isinstance(obj, dict):
            raise FilterError(f"a filter clause must be a JSON object, got {_type_name(obj)}", path)
        if not obj:
            raise FilterError("empty filter clause {}", path)
        clauses = [self.entry(key, value, _key_path(path, key)) for key, value in obj.items()]
        return clauses[0] if len(clauses) == 1 else And(tuple(clauses))

    def entry(self, key: str, value: Any, path: str) -> Node:
        if key in LOGICAL:
            if not isinstance(value, list):
                raise FilterError(f"{key} takes an array of clauses, got {_type_name(value)}", path)
            if not value:
                raise FilterError(f"{key} needs at least one clause, got an empty array", path)
            children = tuple(self.node(item, f"{path}[{i}]") for i, item in enumerate(value))
            return And(children) if key == "#and" else Or(children)
        if key.startswith("#"):
            try:
                op = Op(key)
            except ValueError:
                known = ", ".join(sorted([*LOGICAL, *(o.value for o in self.operators)]))
                raise FilterError(f"unknown operator {key!r}; known operators: {known}", path) from None
            if op not in self.operators:
                raise FilterError(f"operator {key} is not supported here", path)
            if not isinstance(value, dict):
                raise FilterError(f'{key} takes an object {{"<field>": <value>}}, got {_type_name(value)}', path)
            if not value:
                raise FilterError(f"{key} needs at least one field, got an empty object", path)
            conds = tuple(self.condition(op, f, v, _key_path(path, f)) for f, v in value.items())
            return conds[0] if len(conds) == 1 else And(conds)
        return self.condition(Op.EQ, key, value, path, written=True)

    def field(self, name: str, path: str) -> tuple[str, Field]:
        if name.startswith(SEGMENT_CUSTOM_ATTRIBUTE_PREFIX):
            name = CUSTOM_ATTRIBUTE_PREFIX + name[len(SEGMENT_CUSTOM_ATTRIBUTE_PREFIX) :]
        if name.startswith(CUSTOM_ATTRIBUTE_PREFIX) and self.custom_attributes:
            if not name[len(CUSTOM_ATTRIBUTE_PREFIX) :]:
                raise FilterError("custom attribute name missing after 'customAttributes.'", path)
            return name, Field(FieldKind.CUSTOM)
        if name in self.fields:
            return name, self.fields[name]
        known = ", ".join(sorted(self.fields))
        hint = "; custom attributes are addressed as customAttributes.<name>" if self.custom_attributes else ""
        raise FilterError(f"unknown field {name!r}; known fields: {known}{hint}", path)

    def condition(self, op: Op, name: str, value: Any, path: str, *, written: bool = False) -> Condition:
        """One field's condition; `written` marks the equality shorthand {"field": value}, whose messages quote
        what was written rather than name an operator (#eq) the user never typed."""
        key = name
        name, field = self.field(name, path)
        kind = field.kind
        if op not in _KIND_OPS[kind]:
            allowed = ", ".join(sorted(o.value for o in _KIND_OPS[kind] & self.operators))
            if written:
                clause = json.dumps({key: value}, ensure_ascii=False)
                example = json.dumps(value if isinstance(value, str) else "…", ensure_ascii=False)
                first = sorted(o.value for o in _KIND_OPS[kind] & self.operators)[0]
                raise FilterError(
                    f"{clause[:80]} cannot match {kind.value} field {name!r} as a whole; "
                    f'use {allowed}, e.g. {{"{first}": {{"{key}": {example[:60]}}}}}',
                    path,
                )
            raise FilterError(f"operator {op.value} cannot be used on {kind.value} field {name!r}; use {allowed}", path)
        expected = None
        if kind in (FieldKind.STRING, FieldKind.LIST):
            ok, expected = isinstance(value, str), "a string"
        elif kind == FieldKind.NUMBER:
            ok, expected = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        elif kind == FieldKind.DATE:
            ok, expected = isinstance(value, str) and bool(_DATE_RE.match(value)), "a date string YYYY-MM-DD"
        elif kind == FieldKind.DATETIME:
            ok = isinstance(value, str) and bool(_DATE_RE.match(value) or _DATETIME_RE.match(value))
            expected = "a date YYYY-MM-DD or timestamp YYYY-MM-DDTHH:MM:SS string"
        elif kind == FieldKind.ENUM:
            ok = isinstance(value, str) and value in field.choices
            expected = "one of " + ", ".join(sorted(field.choices))
        else:  # custom attribute: scalar of any type; text operators need a string, ordering a number or date
            ok, expected = isinstance(value, str | int | float | bool), "a string, number or boolean"
            if ok and op in TEXT_OPS and not isinstance(value, str):
                ok, expected = False, "a string"
            if ok and op in ORDER_OPS and (isinstance(value, bool) or not isinstance(value, int | float | str)):
                ok, expected = False, "a number or date string"
        if not ok:
            shown = json.dumps(value, ensure_ascii=False)
            said = f"{name!r}" if written else f"{op.value} on {name!r}"
            raise FilterError(f"{said} needs {expected}, got {_type_name(value)} {shown[:60]}", path)
        return Condition(op=op, field=name, value=value, kind=kind, path=path)


def parse(
    text_or_obj: str | bytes | Mapping[str, Any],
    fields: Mapping[str, Field],
    *,
    operators: Iterable[Op] = ALL_OPERATORS,
    custom_attributes: bool = True,
) -> Node:
    """Parse a filter (a JSON string or an already decoded dict) into a tree; raise FilterError if invalid."""
    if isinstance(text_or_obj, str | bytes):
        try:
            obj = json.loads(text_or_obj)
        except json.JSONDecodeError as exc:
            raise FilterError(
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
            ) from exc
    else:
        obj = text_or_obj
    return _Parser(fields, operators, custom_attributes).node(obj, "$")


def parse_person_filter(text_or_obj: str | bytes | Mapping[str, Any]) -> Node:
    return parse(text_or_obj, PERSON_FIELDS)


def parse_company_filter(text_or_obj: str | bytes | Mapping[str, Any]) -> Node:
    return parse(text_or_obj, COMPANY_FIELDS, operators=COMPANY_OPERATORS)


# --- evaluation ---------------------------------------------------------------------------------------

_MISSING = object()


def _getter(field: str) -> Callable[[Mapping[str, Any]], Any]:
    if field.startswith(CUSTOM_ATTRIBUTE_PREFIX):
        attr = field[len(CUSTOM_ATTRIBUTE_PREFIX) :]

        def get_custom(record: Mapping[str, Any]) -> Any:
            attrs = record.get("customAttributes") or {}
            value = attrs.get(attr, _MISSING)
            return _MISSING if value is None else value

        return get_custom

    def get(record: Mapping[str, Any]) -> Any:
        value = record.get(field, _MISSING)
        return _MISSING if value is None or value == "" else value

    return get


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(op: Op, left: Any, right: Any) -> bool:
    if op == Op.EQ:
        return left == right
    if op == Op.NE:
        return left != right
    try:
        if op == Op.GT:
            return left > right
        if op == Op.LT:
            return left < right
        if op == Op.GTE:
            return left >= right
        return left <= right
    except TypeError:
        return False


def _compile_condition(cond: Condition) -> Callable[[Mapping[str, Any]], bool]:
    get = _getter(cond.field)
    op, value, kind = cond.op, cond.value, cond.kind
    negative = op in (Op.NE, Op.NOT_CONTAIN)

    if kind == FieldKind.LIST:

        def test_list(record: Mapping[str, Any]) -> bool:
            items = get(record)
            found = items is not _MISSING and value in items
            return not found if negative else found

        return test_list

    if op in TEXT_OPS:
        needle = str(value).casefold()
        if op in (Op.CONTAINS, Op.NOT_CONTAIN):

            def matches(text: str) -> bool:
                return needle in text
        elif op == Op.STARTS_WITH:

            def matches(text: str) -> bool:
                return text.startswith(needle)
        else:

            def matches(text: str) -> bool:
                return text.endswith(needle)

        def test_text(record: Mapping[str, Any]) -> bool:
            current = get(record)
            found = isinstance(current, str) and matches(current.casefold())
            return not found if negative else found

        return test_text

    if kind == FieldKind.DATETIME and isinstance(value, str) and len(value) == 10:

        def test_day(record: Mapping[str, Any]) -> bool:
            current = get(record)
            if current is _MISSING or not isinstance(current, str):
                return negative
            return _compare(op, current[:10], value)

        return test_day

    if kind == FieldKind.CUSTOM and isinstance(value, int | float) and not isinstance(value, bool):

        def test_number(record: Mapping[str, Any]) -> bool:
            current = get(record)
            number = None if current is _MISSING else _as_number(current)
            if number is None:
                return negative
            return _compare(op, number, value)

        return test_number

    def test(record: Mapping[str, Any]) -> bool:
        current = get(record)
        if current is _MISSING:
            return negative
        return _compare(op, current, value)

    return test


def compile_filter(node: Node) -> Callable[[Mapping[str, Any]], bool]:
    """Turn a parsed tree into a predicate over records shaped like Infobip's JSON (fast for many records)."""
    if isinstance(node, Condition):
        return _compile_condition(node)
    parts = [compile_filter(child) for child in node.clauses]
    if isinstance(node, And):
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


def evaluate(node: Node, record: Mapping[str, Any]) -> bool:
    """Does ``record`` (a person or company in Infobip's JSON shape) match the filter?"""
    return compile_filter(node)(record)
