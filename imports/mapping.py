"""Column → person field mapping: the fields a column can feed (the API's names), pre-filling from header names,
value patterns and the last mapping saved for the same headers, and checking a mapping before analysis."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import phonenumbers
from rapidfuzz import fuzz

from core.errors import ValidationError

CUSTOM_PREFIX = "customAttributes."
# Standard attributes by API name, in the order the issue lists them, with their labels.
STANDARD_FIELDS: dict[str, str] = {
    "firstName": "First name",
    "lastName": "Last name",
    "middleName": "Middle name",
    "nickName": "Nickname",
    "gender": "Gender",
    "birthDate": "Birth date",
    "address": "Address",
    "city": "City",
    "country": "Country",
    "preferredLanguage": "Preferred language",
    "externalId": "External ID",
    "type": "Type (CUSTOMER / LEAD)",
}
MULTI_FIELDS: dict[str, str] = {"phone": "Phone", "email": "Email", "tags": "Tags"}
OTHER_FIELDS: dict[str, str] = {"company": "Company (name)"}
IDENTIFYING_FIELDS = ("phone", "email", "externalId")
TAG_SEPARATORS = re.compile(r"[,;|]")

SYNONYMS: dict[str, tuple[str, ...]] = {
    "firstName": ("firstname", "first", "givenname", "forename", "ime", "vorname", "prenom", "nombre"),
    "lastName": ("lastname", "last", "surname", "familyname", "prezime", "nachname", "nom", "apellido"),
    "middleName": ("middlename", "middle", "secondname"),
    "nickName": ("nickname", "nick", "alias", "nadimak", "spitzname"),
    "gender": ("gender", "sex", "spol", "geschlecht"),
    "birthDate": ("birthdate", "dateofbirth", "dob", "birthday", "born", "datumrodenja", "geburtsdatum"),
    "address": ("address", "street", "streetaddress", "adresa", "ulica", "adresse"),
    "city": ("city", "town", "grad", "mjesto", "stadt", "ort"),
    "country": ("country", "drzava", "land", "pays"),
    "preferredLanguage": ("preferredlanguage", "language", "lang", "jezik", "sprache", "locale"),
    "externalId": ("externalid", "customerid", "clientid", "crmid", "customernumber", "memberid", "extid"),
    "type": ("type", "persontype", "customertype", "contacttype"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "gsm", "telephone", "tel", "msisdn", "cell",
              "cellphone", "telefon", "mobitel", "mob", "handy", "mobilenumber"),
    "email": ("email", "emailaddress", "mail", "emailadresa", "emails"),
    "tags": ("tags", "tag", "labels", "label", "segments", "oznake"),
    "company": ("company", "companyname", "organization", "organisation", "employer", "tvrtka", "firma"),
}  # fmt: skip

EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_LIKE = re.compile(r"^\+?[\d\s\-().\/]{6,24}$")
DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GENDER_LIKE = {"male", "female"}

MSG_UNKNOWN_FIELD = "{field!r} is not a field a column can be imported into"
MSG_TWICE = "{field} is mapped from two columns ({first} and {second}); a person has one {field}"
MSG_NO_IDENTIFIER = "Map at least one column to a phone, an email or the externalId: persons are found by them."
MSG_BAD_COUNTRY = "{value!r} is not a country code like HR or DE"
MSG_COUNTRY_NOT_PHONE = "a country prefix applies to phone columns only"


def normalize_header(header: str) -> str:
    """'E-mail Address ' → 'emailaddress'; 'Država' → 'drzava' (accents folded, đ → d)."""
    text = unicodedata.normalize("NFKD", (header or "").replace("đ", "d").replace("Đ", "D")).lower()
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


def header_key(headers: list[str]) -> str:
    """The identity of a header set: the same columns in any order give the same key."""
    normalized = sorted(normalize_header(h) for h in headers)
    return hashlib.sha256("\n".join(normalized).encode()).hexdigest()


def field_choices(definitions) -> list[tuple[str, str]]:
    """(value, label) for every field a column can feed, custom attributes of the realm included."""
    choices = [*STANDARD_FIELDS.items(), *MULTI_FIELDS.items(), *OTHER_FIELDS.items()]
    choices += [(f"{CUSTOM_PREFIX}{name}", f"Custom: {name}") for name in sorted(definitions)]
    return choices


def is_known_field(field: str, definitions) -> bool:
    if field in STANDARD_FIELDS or field in MULTI_FIELDS or field in OTHER_FIELDS:
        return True
    return field.startswith(CUSTOM_PREFIX) and field[len(CUSTOM_PREFIX) :] in definitions


def _by_name(header: str, definitions) -> str | None:
    norm = normalize_header(header)
    if not norm:
        return None
    for name in definitions:
        if normalize_header(name) == norm:
            return f"{CUSTOM_PREFIX}{name}"
    stripped = norm.rstrip("0123456789") or norm
    for field, synonyms in SYNONYMS.items():
        if norm in synonyms or stripped in synonyms:
            return field
    best, best_score = None, 0.0
    for field, synonyms in SYNONYMS.items():
        for synonym in synonyms:
            if len(synonym) < 4:
                continue
            score = fuzz.ratio(stripped, synonym)
            if score > best_score:
                best, best_score = field, score
    for name in definitions:
        score = fuzz.ratio(norm, normalize_header(name))
        if score > best_score:
            best, best_score = f"{CUSTOM_PREFIX}{name}", score
    return best if best_score >= 85 else None


def _by_values(values: list[str]) -> str | None:
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        return None

    def share(predicate) -> float:
        return sum(1 for v in present if predicate(v)) / len(present)

    if share(lambda v: bool(EMAIL_LIKE.match(v))) >= 0.8:
        return "email"
    if share(lambda v: bool(PHONE_LIKE.match(v)) and sum(c.isdigit() for c in v) >= 7) >= 0.8:
        return "phone"
    if share(lambda v: bool(DATE_LIKE.match(v))) >= 0.8:
        return "birthDate"
    if share(lambda v: v.lower() in GENDER_LIKE) >= 0.8:
        return "gender"
    return None


def suggest_mapping(
    headers: list[str], sample_rows: list[list[str]], definitions, saved: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One entry per column: {header, field, country}. The saved mapping for these headers wins; then names,
    then value patterns. A single-valued field goes to the first column that claims it."""
    mapping: list[dict[str, Any]] = []
    taken: set[str] = set()
    for index, header in enumerate(headers):
        entry = (saved or {}).get(normalize_header(header))
        if entry is not None:
            field = entry.get("field")
            country = entry.get("country", "")
            if field and not is_known_field(field, definitions):
                field = None
        else:
            values = [row[index] for row in sample_rows if index < len(row)]
            field = _by_name(header, definitions) or _by_values(values)
            country = ""
        if field and field not in MULTI_FIELDS and field in taken:
            field = None
        if field:
            taken.add(field)
        mapping.append({"header": header, "field": field, "country": country if field == "phone" else ""})
    return mapping


def check_country(value: str) -> str:
    code = (value or "").strip().upper()
    if not code:
        return ""
    if not re.fullmatch(r"[A-Z]{2}", code) or phonenumbers.country_code_for_region(code) == 0:
        raise ValidationError.single("country", MSG_BAD_COUNTRY.format(value=value))
    return code


def clean_mapping(mapping: list[dict[str, Any]], headers: list[str], definitions) -> list[dict[str, Any]]:
    """Check a mapping given as one entry per column (in header order); return it cleaned."""
    errors: dict[str, list[str]] = {}
    cleaned: list[dict[str, Any]] = []
    first_column: dict[str, str] = {}
    by_header = {entry.get("header"): entry for entry in mapping}
    for header in headers:
        entry = by_header.get(header) or {}
        field = entry.get("field") or None
        country = entry.get("country") or ""
        if field and not is_known_field(field, definitions):
            errors.setdefault(header, []).append(MSG_UNKNOWN_FIELD.format(field=field))
            field = None
        if field and field not in MULTI_FIELDS:
            if field in first_column:
                errors.setdefault(header, []).append(
                    MSG_TWICE.format(field=field, first=first_column[field], second=header)
                )
            first_column.setdefault(field, header)
        if country:
            if field != "phone":
                errors.setdefault(header, []).append(MSG_COUNTRY_NOT_PHONE)
            else:
                try:
                    country = check_country(country)
                except ValidationError as exc:
                    errors.setdefault(header, []).extend(exc.fields["country"])
        cleaned.append({"header": header, "field": field, "country": country if field == "phone" else ""})
    if not any(entry["field"] in IDENTIFYING_FIELDS for entry in cleaned):
        errors.setdefault("mapping", []).append(MSG_NO_IDENTIFIER)
    if errors:
        raise ValidationError(errors, code="mapping")
    return cleaned


def mapping_from_file(data: Any, headers: list[str], *, phone_country: str = "") -> list[dict[str, Any]]:
    """The command's mapping file: {"Header": "firstName" | {"field": "phone", "country": "HR"} | null}.
    Columns it does not name are not imported; a header it names that the file lacks is an error."""
    if not isinstance(data, dict):
        raise ValidationError.single("mapping", "a mapping file is a JSON object: column header → field name")
    unknown = [header for header in data if header not in headers]
    if unknown:
        raise ValidationError.single(
            "mapping", f"the file has no column {', '.join(repr(h) for h in unknown)} (columns: {', '.join(headers)})"
        )
    mapping = []
    for header in headers:
        value = data.get(header)
        if isinstance(value, dict):
            field, country = value.get("field"), value.get("country") or ""
        else:
            field, country = value, ""
        if field == "phone" and not country:
            country = phone_country
        mapping.append({"header": header, "field": field, "country": country})
    return mapping


NOT_GIVEN: Any = object()


def mapping_with_options(
    suggested: list[dict[str, Any]], headers: list[str], data: Any = NOT_GIVEN, *, phone_country: str = ""
) -> list[dict[str, Any]]:
    """The mapping of an unattended import (the command, the REST API): the mapping file's `data` when given
    (`mapping_from_file`), else the suggested one; `phone_country` is the prefix of phone columns that name
    none."""
    if data is not NOT_GIVEN:
        return mapping_from_file(data, headers, phone_country=phone_country)
    return [
        {**entry, "country": phone_country if entry["field"] == "phone" and phone_country else entry["country"]}
        for entry in suggested
    ]


def split_tags(value: str) -> list[str]:
    return [part.strip() for part in TAG_SEPARATORS.split(value) if part.strip()]
