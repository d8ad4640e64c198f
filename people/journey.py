"""The customer journey's type rule, once: a person is a Lead or a Customer, Lead → Customer is a one-way street.

Every path that writes a person's type goes through here: the API and admin (``person_update`` refuses a
demotion), the import (an existing Customer stays one whatever the row says), the merge and the sync
(``merged_type``: Customer wins), attaching an identity (a Lead becomes a Customer) and tracking sources
(which never set a type). Pure rules plus one service, ``person_convert_to_customer``.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorCollector
from people.merge_rules import merged_type
from people.models import Origin, Person, PersonType

LEAD = PersonType.LEAD.value
CUSTOMER = PersonType.CUSTOMER.value
MSG_NO_DEMOTION = "a Customer never becomes a Lead again (Lead → Customer is one way); the type stays CUSTOMER"


def type_for_new(requested: str | None) -> str:
    """A person created without a type is a Customer (Infobip's default)."""
    return requested or CUSTOMER


def type_kept(current: str, requested: str | None) -> str:
    """The type after a write that must not fail on the type (import rows, the sync, merges): Customer wins."""
    if not requested:
        return current
    return merged_type(current, requested)


def check_type_change(current: str, requested: str | None, errors: ErrorCollector, field: str = "type") -> None:
    """An explicit write (API, admin) asking a Customer to become a Lead is refused, naming the rule."""
    if current == CUSTOMER and requested == LEAD:
        errors.add(field, MSG_NO_DEMOTION)


def tracking_attributes(person: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    """What a tracking source (the web snippet) may write: a lead's attributes but never its type, and nothing
    of a customer's."""
    if person.type == CUSTOMER:
        return {}
    return {name: value for name, value in attributes.items() if name != "type"}


def person_convert_to_customer(*, person: Person, modified_from: str = Origin.API) -> Person:
    """Lead → Customer (explicitly, or because an identity was attached). A Customer is returned unchanged."""
    if person.type == CUSTOMER:
        return person
    from people.services import person_update  # people.services imports this module's rules

    return person_update(person=person, attributes={"type": CUSTOMER}, modified_from=modified_from)
