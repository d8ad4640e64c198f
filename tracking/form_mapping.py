"""What a form's field mapping may name: a contact (``email``, ``phone``, ``externalId``), a standard attribute
in the API's names (``firstName`` …, never ``type``) or ``customAttributes.<name>``."""

from __future__ import annotations

from typing import Any

from people.fields import PERSON_ATTRIBUTES

CONTACT_TARGETS = ("email", "phone", "externalId")
ATTRIBUTE_TARGETS = {api: f for api, f in PERSON_ATTRIBUTES.items() if api not in ("type", "externalId")}
CUSTOM_PREFIX = "customAttributes."


def is_target(target: str) -> bool:
    if target in CONTACT_TARGETS or target in ATTRIBUTE_TARGETS:
        return True
    return target.startswith(CUSTOM_PREFIX) and len(target) > len(CUSTOM_PREFIX)


def mapping_problems(mapping: Any) -> list[str]:
    """Every problem of a mapping, in words (empty when it is fine)."""
    if not isinstance(mapping, dict) or not mapping:
        return ["must be an object of form field → person field"]
    problems = []
    for field, target in mapping.items():
        if not isinstance(target, str):
            problems.append(f"{field!r}: the target must be a text")
        elif not is_target(target):
            problems.append(
                f"{field!r} → {target!r}: not a person field (use email, phone, externalId, a standard attribute "
                f"such as firstName, or customAttributes.<name>; the type is never set by a form)"
            )
    if not any(t in CONTACT_TARGETS for t in mapping.values() if isinstance(t, str)):
        problems.append("map at least one field to email, phone or externalId (the form must identify a person)")
    return problems
