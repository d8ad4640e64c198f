"""Reading Infobip's person records (People API 2): identifiers, timestamps, standard attributes.

Pure functions over the JSON Infobip sends; values come out as our model accepts them (what our constraints
would refuse is dropped and named, never stored). ``parse_infobip_time`` is the one reader of Infobip times.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from people import validation
from people.fields import PERSON_ATTRIBUTES
from people.models import PersonType

API_FIELD = dict(PERSON_ATTRIBUTES)  # Infobip attribute name → model field name


def phone_digits(value: str) -> str:
    """A phone as international digits, the way both sides compare them (no '+', no '00', no separators)."""
    compact = re.sub(r"[^\d+]", "", value)
    if compact.startswith("00"):
        compact = compact[2:]
    return compact.lstrip("+")


def parse_infobip_time(value: Any) -> dt.datetime | None:
    """Infobip's ``createdAt``/``modifiedAt`` (ISO 8601, ``Z`` or an offset, UTC when naive); None if absent or bad."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def record_keys(record: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(externalId, emails as given, phones as international digits) of an Infobip person."""
    contacts = record.get("contactInformation") or {}
    emails = [e["address"] for e in contacts.get("email") or () if e.get("address")]
    phones = [phone_digits(p["number"]) for p in contacts.get("phone") or () if p.get("number")]
    return record.get("externalId") or None, emails, phones


def record_attributes(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Infobip's standard attributes as model values our constraints accept, and what had to be dropped."""
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for api, name in PERSON_ATTRIBUTES.items():
        raw = record.get(api)
        if name == "type":
            values[name] = raw if raw in validation.PERSON_TYPES else PersonType.CUSTOMER
            continue
        if raw in (None, ""):
            values[name] = None if name in ("external_id", "birth_date") else ""
            continue
        if name == "birth_date":
            try:
                values[name] = dt.date.fromisoformat(str(raw))
            except ValueError:
                dropped.append(api)
                values[name] = None
            continue
        text = str(raw)
        if not validation.attribute_fits(name, text):  # Infobip allows what our constraints do not: say so
            dropped.append(api)
            text = ""
        values[name] = text or (None if name == "external_id" else "")
    return values, dropped


def comparable(name: str, value: Any) -> Any:
    """A value as the merge rule compares it: empty is ``""``, a birth date its ISO text."""
    if value in (None, ""):
        return ""
    return value.isoformat() if name == "birth_date" else value
