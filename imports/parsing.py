"""One file row → the values that will be stored, with every rule of people/validation.py, or its problems.

Pure (no database). Phone and email normalization is cached per distinct input, because files repeat values
and phonenumbers is the costliest rule.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from companies.models import COMPANY_NAME_MAX
from core.errors import ErrorCollector, ValidationError
from imports import phones
from imports.mapping import CUSTOM_PREFIX, split_tags
from people import validation
from people.fields import PERSON_ATTRIBUTES
from people.models import EMAIL_MAX, TAG_NAME_MAX

CACHE_MAX = 100_000
MISSING = object()
MSG_NO_IDENTIFIER = "the row has no valid phone, email or externalId"
MSG_TAG_TOO_LONG = f"a tag is longer than {TAG_NAME_MAX} characters"
MSG_COMPANY_TOO_LONG = f"a company name is longer than {COMPANY_NAME_MAX} characters"
# The commonest email of a file, which Django's EmailValidator accepts: an ASCII dot-atom, '@', an ASCII host
# name (its hostname and domain labels) and a TLD of letters, no trailing dot. A strict subset of what it
# accepts (its patterns with ASCII classes only; no quoted local part, IDN, punycode TLD, literal or
# 'localhost'): anything else goes to people.validation.normalize_email, whose answer stays the reference.
# tests/imports/test_parsing_email.py compares both over the validator's own cases and random strings.
FAST_EMAIL = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
    r"@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.(?!-)[a-zA-Z0-9-]{1,63}(?<!-))*"
    r"\.(?!-)[a-zA-Z-]{2,63}(?<!-)"
)
# The commonest birth date and name, which people.validation.clean_person_attributes keeps as they are: an
# ASCII YYYY-MM-DD that is a real date not after today, and a name without a forbidden character, a C0/C1
# control or a lone surrogate, within its length limit. Anything else takes the reference rule, whose answer
# stays the reference. tests/imports/test_parsing_attributes.py compares both over random strings.
FAST_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PLAIN_NAME = re.compile(f"[^{re.escape(validation.FORBIDDEN_NAME_CHARACTERS)}\x00-\x1f\x7f-\x9f\ud800-\udfff]*")
NAME_LIMITS = {name: validation._LIMITS[name] for name in validation.NAME_FIELDS}


@dataclass
class Problem:
    column: str
    value: str
    reason: str


@dataclass
class ParsedRow:
    """A valid row. `data` is what is staged: {"a": attributes by model field, "p": phones, "e": emails,
    "t": tags, "c": custom attributes, "co": company name} — empty parts left out."""

    number: int
    data: dict[str, Any]
    keys: list[str] = field(default_factory=list)


def row_keys(data: dict[str, Any]) -> list[str]:
    """What makes two rows (or a row and a person) the same person: phones, emails (any case), externalId."""
    keys = [f"p:{number}" for number in data.get("p", ())]
    keys += [f"e:{address.lower()}" for address in data.get("e", ())]
    external_id = data.get("a", {}).get("external_id")
    if external_id:
        keys.append(f"x:{external_id}")
    return keys


class RowParser:
    def __init__(
        self, mapping: list[dict[str, Any]], definitions: dict, *, default_country: str | None, default_type: str = ""
    ):
        self.definitions = definitions
        self.default_type = default_type  # the job's type for rows without one
        self.default_country = default_country
        self.columns: list[tuple[int, str, str, str]] = []  # (index, header, field, country)
        self.header_of: dict[str, str] = {}  # API field name → first column header feeding it
        for index, entry in enumerate(mapping):
            if entry.get("field"):
                self.columns.append((index, entry["header"], entry["field"], entry.get("country") or ""))
                self.header_of.setdefault(entry["field"], entry["header"])
        # Per column: (index, header, field, country, model field of a standard attribute or None, custom name
        # or None): the row loop tests the commonest case first without comparing field names.
        self._plan = [
            (
                index, header, name, country,
                PERSON_ATTRIBUTES.get(name),
                name[len(CUSTOM_PREFIX) :] if name.startswith(CUSTOM_PREFIX) else None,
            )
            for index, header, name, country in self.columns
        ]  # fmt: skip
        # Per distinct input: phonenumbers is the costliest rule, and files repeat numbers. Bounded, so a
        # file of unique numbers cannot grow it without end; the realm's own country needs no tuple key.
        self._phones: dict[Any, tuple[str | None, str | None]] = {}
        self._emails: dict[str, tuple[str | None, str | None]] = {}
        # Per distinct (field, value): each attribute's rule looks at its own value only, and names, cities,
        # countries, birth dates repeat from row to row.
        self._attributes: dict[tuple[str, str], tuple[Any, list[tuple[str, str]]]] = {}
        self._custom: dict[tuple[str, str], tuple[Any, list[tuple[str, str]]]] = {}
        # "Not in the future" is judged against one day per parser (one analysis), not one look at the clock
        # per distinct date.
        self._today = timezone.localdate().isoformat()

    def phone(self, raw: str, country: str) -> tuple[str | None, str | None]:
        key = (raw, country) if country else raw
        cached = self._phones.get(key)
        if cached is None:
            try:
                cached = (phones.normalize(raw, country or self.default_country), None)
            except ValidationError as exc:
                cached = (None, "; ".join(exc.fields.get("phone", [exc.message])))
            if len(self._phones) >= CACHE_MAX:
                self._phones.clear()
            self._phones[key] = cached
        return cached

    def email(self, raw: str) -> tuple[str | None, str | None]:
        cached = self._emails.get(raw)
        if cached is None:
            if len(raw) <= EMAIL_MAX and FAST_EMAIL.fullmatch(raw):
                local, _, domain = raw.rpartition("@")
                return f"{local}@{domain.lower()}", None  # what normalize_email returns for it
            try:
                cached = (validation.normalize_email(raw), None)
            except ValidationError as exc:
                cached = (None, "; ".join(exc.fields.get("email", [exc.message])))
            if len(self._emails) >= CACHE_MAX:
                self._emails.clear()
            self._emails[raw] = cached
        return cached

    def _cached(self, cache: dict, key: tuple[str, str], clean) -> tuple[Any, list[tuple[str, str]]]:
        """(the cleaned value or MISSING, the (field, reason) problems) of one value, by its own rule."""
        cached = cache.get(key)
        if cached is None:
            errors = ErrorCollector()
            cleaned = clean({key[0]: key[1]}, errors)
            problems = [(name, reason) for name, reasons in errors.fields.items() for reason in reasons]
            cached = (cleaned.get(key[0], MISSING), problems)
            if len(cache) >= CACHE_MAX:
                cache.clear()
            cache[key] = cached
        return cached

    def _keep(self, field_name: str, value: str) -> tuple[Any, list[tuple[str, str]]]:
        """``value`` (stripped, never empty) is its own staged form, without problems."""
        cache = self._attributes
        if len(cache) >= CACHE_MAX:
            cache.clear()
        cached = cache[(field_name, value)] = (value, [])
        return cached

    def _clean_custom(self, values: dict[str, Any], errors: ErrorCollector) -> dict[str, Any]:
        return validation.clean_custom_attributes(values, self.definitions, errors, from_text=True)

    def _stored(
        self, cache: dict, key: tuple[str, str], clean, skip: tuple, dates: bool
    ) -> tuple[Any, list[tuple[str, str]]]:
        """``_cached``, as staged: (the value to store, or MISSING when the row stores nothing for it: no
        cleaned value, or one in ``skip``; dates as ISO text when ``dates``), with its problems. Kept per
        distinct value."""
        cached = cache.get(key)
        if cached is None:
            value, problems = self._cached({}, key, clean)
            if value is not MISSING:
                if value in skip:  # "" and None are never stored
                    value = MISSING
                elif dates and isinstance(value, dt.date):
                    value = value.isoformat()
            cached = (value, problems)
            if len(cache) >= CACHE_MAX:
                cache.clear()
            cache[key] = cached
        return cached

    def parse(self, number: int, cells: list[str]) -> tuple[ParsedRow | None, list[Problem]]:
        """Each attribute's rule runs once per distinct (field, value): a row is mostly dictionary look-ups."""
        problems: list[Problem] = []
        found: list[tuple[str, str]] = []  # (API field, reason) of the attributes' rules, in order
        found_custom: list[tuple[str, str]] = []  # the same of the custom attributes' (reported after them)
        stored: dict[str, Any] = {}
        custom_values: dict[str, Any] = {}
        phones: list[str] = []
        emails: list[str] = []
        tags: list[str] = []
        company = ""
        has_type = False
        count = len(cells)
        attributes_cache = self._attributes
        for index, header, name, country, attribute, custom_name in self._plan:
            value = cells[index].strip() if index < count else ""
            if not value:
                continue  # an empty cell never erases anything
            if attribute is not None:
                cached = attributes_cache.get((attribute, value)) or self._attribute(attribute, value)
                if cached[0] is not MISSING:
                    stored[attribute] = cached[0]
                if cached[1]:
                    found += cached[1]
                if attribute == "type":
                    has_type = True
            elif name == "phone":
                number_, reason = self.phone(value, country)
                if reason:
                    problems.append(Problem(header, value, reason))
                elif number_ not in phones:
                    phones.append(number_)
            elif name == "email":
                address, reason = self.email(value)
                if reason:
                    problems.append(Problem(header, value, reason))
                elif not emails or address.lower() not in {e.lower() for e in emails}:
                    emails.append(address)
            elif name == "tags":
                for tag in split_tags(value):
                    if len(tag) > TAG_NAME_MAX:
                        problems.append(Problem(header, value, MSG_TAG_TOO_LONG))
                    elif tag.lower() not in {t.lower() for t in tags}:
                        tags.append(tag)
            elif name == "company":
                if len(value) > COMPANY_NAME_MAX:
                    problems.append(Problem(header, value, MSG_COMPANY_TOO_LONG))
                company = value
            elif custom_name is not None:
                cleaned, reasons = self._stored(self._custom, (custom_name, value), self._clean_custom, (None,), False)
                if cleaned is not MISSING:
                    custom_values[custom_name] = cleaned
                if reasons:
                    found_custom += reasons
        if self.default_type and not has_type:
            cleaned, reasons = self._attribute("type", self.default_type)
            if cleaned is not MISSING:
                stored["type"] = cleaned
            found += reasons
        if found or found_custom:
            errors = ErrorCollector()
            for api_field, reason in found + found_custom:
                errors.add(api_field, reason)
            for api_field, reasons in errors.fields.items():
                header = self.header_of.get(api_field, api_field)
                index = next((i for i, h, _, _ in self.columns if h == header), None)
                value = cells[index].strip() if index is not None and index < count else ""
                problems.extend(Problem(header, value, reason) for reason in reasons)
        if problems:
            return None, problems
        if not phones and not emails and not stored.get("external_id"):
            return None, [Problem("", "", MSG_NO_IDENTIFIER)]
        data: dict[str, Any] = {}
        if stored:
            data["a"] = stored
        if phones:
            data["p"] = phones
        if emails:
            data["e"] = emails
        if tags:
            data["t"] = tags
        if custom_values:
            data["c"] = custom_values
        if company:
            data["co"] = company
        return ParsedRow(number, data, row_keys(data)), []

    def _attribute(self, field_name: str, value: str) -> tuple[Any, list[tuple[str, str]]]:
        """The staged form of one attribute's value (cached): the short road for common dates and names."""
        if field_name == "birth_date":
            if FAST_DATE.fullmatch(value) and value <= self._today and _real_date(value):
                return self._keep(field_name, value)
        else:
            limit = NAME_LIMITS.get(field_name)
            if limit is not None and len(value) <= limit and PLAIN_NAME.fullmatch(value):
                return self._keep(field_name, value)
        return self._stored(self._attributes, (field_name, value), validation.clean_person_attributes, ("", None), True)


def _real_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
