"""Pure validation and normalization of person data: no database access, usable by every entry point."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ErrorCollector, ValidationError
from people import models as m
from people.fields import API_NAME

FORBIDDEN_NAME_CHARACTERS = '&<>"/\\:(){}=;#\n\r'
NAME_FIELDS = ("first_name", "middle_name", "last_name", "nick_name")
CUSTOM_ATTRIBUTE_NAME_FORBIDDEN = "{}[]"
LANGUAGE_RE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Caps on the way in, so one request cannot queue thousands of pushes. Infobip documents 100 phones and 100 emails
# per person and none for tags or domains; we hold tags per person/company and domains per company to the same 100.
MAX_TAGS = 100
MAX_DOMAINS = 100
IDENTITY_DATA_MAX_BYTES = 512_000  # Infobip's bound on one event's payload (batch events: 512,000 B per item)
MSG_TOO_MANY_TAGS = "has {count} tags; at most {limit} per person or company"
MSG_TOO_MANY_DOMAINS = "has {count} domains; at most {limit} per company"
MSG_DATA_TOO_BIG = "is {size:,} bytes as JSON; at most {limit:,}"

MSG_FORBIDDEN_CHARACTER = "contains the forbidden character {char}"
MSG_CONTROL_CHARACTER = "contains the control character {char}, which no name holds"
MSG_LONE_SURROGATE = "contains a lone surrogate ({char}), which is not a character"
MSG_TOO_LONG = "is longer than {limit} characters"
MSG_INVALID_PHONE = "{value!r} is not a valid phone number"
MSG_PHONE_NEEDS_COUNTRY = "{value!r} has no country prefix and no default country is known"
MSG_INVALID_EMAIL = "{value!r} is not a valid email address"
MSG_INVALID_DATE = "{value!r} is not a date in the form YYYY-MM-DD"
MSG_FUTURE_DATE = "{value} is in the future"
MSG_INVALID_LANGUAGE = "{value!r} is not a language code like 'en' or 'en-GB'"
MSG_INVALID_CHOICE = "{value!r} is not one of {choices}"
MSG_INVALID_URL = "{value!r} is not a valid URL"
MSG_UNKNOWN_ATTRIBUTE = "is not a defined custom attribute; define it first"
MSG_WRONG_TYPE = "expected {expected}, got {got}"
MSG_VALUE_TOO_LONG = "value is longer than 4096 characters"
MSG_NOT_A_STRING = "must be a string"


def check_tag_count(count: int, field: str, errors: ErrorCollector) -> None:
    if count > MAX_TAGS:
        errors.add(field, MSG_TOO_MANY_TAGS.format(count=count, limit=MAX_TAGS))


def check_json_size(value: Any, field: str, limit: int, errors: ErrorCollector) -> None:
    """A JSON value over `limit` bytes (UTF-8, compact) is refused on `field`."""
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > limit:
        errors.add(field, MSG_DATA_TOO_BIG.format(size=size, limit=limit))


def _describe(char: str) -> str:
    return {"\n": "line break (\\n)", "\r": "carriage return (\\r)"}.get(char, repr(char))


def _is_control(char: str) -> bool:
    """C0 and C1 controls and DEL (ESC, BEL, NUL, tab ...): invisible in a name, and never typed into one."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def check_name(field: str, value: str, errors: ErrorCollector) -> None:
    """First, middle, last and nick names reject & < > " / \\ : ( ) { } = ; # and line breaks (Infobip's rule), control
    characters and lone surrogates (which PostgreSQL cannot store)."""
    seen = []
    name = API_NAME.get(field, field)
    for char in value:
        if char in seen:
            continue
        if char in FORBIDDEN_NAME_CHARACTERS:
            seen.append(char)
            errors.add(name, MSG_FORBIDDEN_CHARACTER.format(char=_describe(char)))
        elif _is_control(char):
            seen.append(char)
            errors.add(name, MSG_CONTROL_CHARACTER.format(char=f"U+{ord(char):04X}"))
        elif "\ud800" <= char <= "\udfff":
            seen.append(char)
            errors.add(name, MSG_LONE_SURROGATE.format(char=f"U+{ord(char):04X}"))


def normalize_phone(raw: Any, default_country: str | None = None) -> str:
    """International digits without '+', e.g. '385991234567'.

    Numbers given with '+' or '00' are international. Otherwise the number is read as a national number of
    `default_country` first, then as an international number written without '+' (Infobip's own form,
    e.g. '41793026727'). Raises ValidationError naming the input when neither reading is a valid number.
    """
    value = str(raw if raw is not None else "").strip()
    if not value:
        raise ValidationError.single("phone", "phone number is empty")
    compact = re.sub(r"[\s\-().\u00a0/]", "", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not re.fullmatch(r"\+?\d{3,20}", compact):
        raise ValidationError.single("phone", MSG_INVALID_PHONE.format(value=value))
    candidates: list[tuple[str, str | None]] = []
    if compact.startswith("+"):
        candidates.append((compact, None))
    else:
        if default_country:
            candidates.append((compact, default_country.upper()))
        candidates.append(("+" + compact, None))
    for text, region in candidates:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    if not compact.startswith("+") and not default_country and len(compact) < 8:
        raise ValidationError.single("phone", MSG_PHONE_NEEDS_COUNTRY.format(value=value))
    raise ValidationError.single("phone", MSG_INVALID_PHONE.format(value=value))


_email_validator = EmailValidator()


def normalize_email(raw: Any) -> str:
    """Trimmed, with the domain lower-cased. Uniqueness compares the whole address case-insensitively."""
    value = str(raw if raw is not None else "").strip()
    if len(value) > m.EMAIL_MAX:
        raise ValidationError.single("email", f"{value[:40]!r}… {MSG_TOO_LONG.format(limit=m.EMAIL_MAX)}")
    try:
        _email_validator(value)
    except DjangoValidationError:
        raise ValidationError.single("email", MSG_INVALID_EMAIL.format(value=value)) from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_birth_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        parsed = value
    else:
        text = str(value).strip()
        if not DATE_RE.match(text):
            raise ValidationError.single("birthDate", MSG_INVALID_DATE.format(value=text))
        try:
            parsed = dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError.single("birthDate", MSG_INVALID_DATE.format(value=text)) from None
    if parsed > timezone.localdate():
        raise ValidationError.single("birthDate", MSG_FUTURE_DATE.format(value=parsed.isoformat()))
    return parsed


_LIMITS = {
    "external_id": m.EXTERNAL_ID_MAX,
    "first_name": m.NAME_MAX,
    "middle_name": m.MIDDLE_NAME_MAX,
    "nick_name": m.NICK_NAME_MAX,
    "last_name": m.NAME_MAX,
    "address": m.ADDRESS_MAX,
    "city": m.CITY_MAX,
    "country": m.COUNTRY_MAX,
    "profile_picture": m.PROFILE_PICTURE_MAX,
}
_url_validator = URLValidator(schemes=["http", "https"])


def clean_person_attributes(attributes: dict[str, Any], errors: ErrorCollector) -> dict[str, Any]:
    """Validate standard attributes given by model field name; return cleaned values. Problems go to `errors`."""
    cleaned: dict[str, Any] = {}
    for field, value in attributes.items():
        name = API_NAME.get(field, field)
        if field not in API_NAME:
            errors.add(name, "is not a person attribute")
            continue
        if field == "birth_date":
            try:
                cleaned[field] = parse_birth_date(value)
            except ValidationError as exc:
                errors.merge(exc)
            continue
        if value is None:
            cleaned[field] = None if field == "external_id" else ""
            continue
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                errors.add(name, MSG_NOT_A_STRING)
                continue
            value = str(value)
        value = value.strip()
        limit = _LIMITS.get(field)
        if limit and len(value) > limit:
            errors.add(name, MSG_TOO_LONG.format(limit=limit))
            continue
        if field in NAME_FIELDS:
            check_name(field, value, errors)
        elif field == "type":
            value = value.upper()
            if value not in m.PersonType.values:
                errors.add(name, MSG_INVALID_CHOICE.format(value=value, choices=", ".join(m.PersonType.values)))
                continue
        elif field == "gender":
            value = value.upper()
            if value and value not in m.Gender.values:
                errors.add(name, MSG_INVALID_CHOICE.format(value=value, choices=", ".join(m.Gender.values)))
                continue
        elif field == "preferred_language":
            if value and not LANGUAGE_RE.match(value):
                errors.add(name, MSG_INVALID_LANGUAGE.format(value=value))
                continue
        elif field == "profile_picture" and value:
            try:
                _url_validator(value)
            except DjangoValidationError:
                errors.add(name, MSG_INVALID_URL.format(value=value))
                continue
        elif field == "external_id" and value == "":
            value = None
        cleaned[field] = value
    return cleaned


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def coerce_scalar(data_type: str, value: Any, *, from_text: bool = False) -> Any:
    """Check (and, for values read from text such as file cells, convert) one value; raise ValueError."""
    if data_type == m.DataType.STRING:
        if isinstance(value, str):
            return value
        if from_text and not isinstance(value, list | dict):
            return str(value)
    elif data_type == m.DataType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
    elif data_type == m.DataType.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if from_text and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value.strip())
    elif data_type == m.DataType.DECIMAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, Decimal):
            return float(value)
        if from_text and isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", "."))
            except InvalidOperation:
                pass
            else:
                if number.is_finite():
                    return float(number)
    elif data_type == m.DataType.DATE:
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str) and DATE_RE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
    elif data_type == m.DataType.DATE_TIME:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, str):
            text = value.strip()
            try:
                parsed = parse_datetime(text)
            except ValueError:
                parsed = None
            if parsed is not None:
                return text
    raise ValueError(MSG_WRONG_TYPE.format(expected=data_type, got=_type_name(value)))


def clean_custom_attributes(
    values: dict[str, Any], definitions: dict[str, Any], errors: ErrorCollector, *, from_text: bool = False
) -> dict[str, Any]:
    """Check values against the realm's definitions (name → CustomAttributeDefinition). `None` means remove."""
    cleaned: dict[str, Any] = {}
    if not isinstance(values, dict):
        errors.add("customAttributes", "must be an object of name → value")
        return cleaned
    for name, value in values.items():
        field = f"customAttributes.{name}"
        definition = definitions.get(name)
        if definition is None:
            errors.add(field, MSG_UNKNOWN_ATTRIBUTE)
            continue
        if value is None or (from_text and value == ""):
            cleaned[name] = None
            continue
        try:
            if definition.data_type == m.DataType.LIST_OF_OBJECTS:
                cleaned[name] = _clean_list_of_objects(value, definition.object_schema or {}, from_text=from_text)
            else:
                cleaned[name] = coerce_scalar(definition.data_type, value, from_text=from_text)
        except ValueError as exc:
            errors.add(field, str(exc))
            continue
        rendered = cleaned[name] if isinstance(cleaned[name], str) else json.dumps(cleaned[name])
        if len(rendered) > m.CUSTOM_ATTRIBUTE_VALUE_MAX:
            errors.add(field, MSG_VALUE_TOO_LONG)
            del cleaned[name]
    return cleaned


def _clean_list_of_objects(value: Any, schema: dict[str, str], *, from_text: bool) -> list[dict[str, Any]]:
    if from_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("expected a JSON list of objects") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(MSG_WRONG_TYPE.format(expected="LIST_OF_OBJECTS", got=_type_name(value)))
    items = []
    for index, item in enumerate(value):
        clean_item = {}
        for key, item_value in item.items():
            if key not in schema:
                raise ValueError(f"item {index}: {key!r} is not in the object schema")
            if item_value is None:
                clean_item[key] = None
                continue
            try:
                clean_item[key] = coerce_scalar(schema[key], item_value)
            except ValueError as exc:
                raise ValueError(f"item {index}: {key}: {exc}") from None
        items.append(clean_item)
    return items


def check_custom_attribute_name(name: str) -> None:
    name = name or ""
    if not name.strip():
        raise ValidationError.single("name", "must not be empty")
    bad = [c for c in CUSTOM_ATTRIBUTE_NAME_FORBIDDEN if c in name]
    if bad:
        raise ValidationError.single("name", MSG_FORBIDDEN_CHARACTER.format(char=" ".join(bad)))
    if len(name) > m.CUSTOM_ATTRIBUTE_NAME_MAX:
        raise ValidationError.single("name", MSG_TOO_LONG.format(limit=m.CUSTOM_ATTRIBUTE_NAME_MAX))


# ------------------------------------------------------------------ data that arrives already shaped
# Infobip's records (the sync) and the import's staged rows are not typed by a person here; the bulk writer
# (people/bulk.py) checks them against what the database's constraints accept, with these, before any COPY.

ATTRIBUTE_LIMITS = _LIMITS
PHONE_DIGITS_RE = re.compile(r"^[1-9][0-9]{5,18}$")  # the phone_e164_digits constraint: international digits
PERSON_TYPES = frozenset(m.PersonType.values)
GENDERS = frozenset(m.Gender.values)
ORIGINS = frozenset(m.Origin.values)


def has_forbidden_name_character(text: str) -> bool:
    return any(char in FORBIDDEN_NAME_CHARACTERS for char in text)


def attribute_fits(name: str, text: str) -> bool:
    """Whether a non-empty text value of the standard attribute ``name`` (model field name) can be stored."""
    if name == "type":
        return text in PERSON_TYPES
    if name == "gender":
        return text in GENDERS
    if name == "preferred_language" and not LANGUAGE_RE.match(text):
        return False
    if name in NAME_FIELDS and has_forbidden_name_character(text):
        return False
    return name not in ATTRIBUTE_LIMITS or len(text) <= ATTRIBUTE_LIMITS[name]


def phone_digits_fit(number: str) -> bool:
    return bool(PHONE_DIGITS_RE.match(number))


def email_fits(address: str) -> bool:
    return "@" in address and len(address) <= m.EMAIL_MAX
