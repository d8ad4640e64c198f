"""The customer journey's type rule, once: a person is a Lead or a Customer, Lead → Customer is a one-way street.

Every path that writes a person's type follows it: the API and admin (``person_update`` refuses a demotion,
``check_type_change``), the import (an existing Customer stays one whatever the row says, ``type_kept``), the
merge and the sync (``merged_type``: Customer wins), attaching an identity (``person_convert_to_customer``) and
tracking sources (``tracking_attributes``: never a type, never a Customer's attributes). The pure rules live in
``people.merge_rules`` (people.services uses them too); this module adds the conversion service.
"""

from __future__ import annotations

from typing import Any

from people.merge_rules import (  # noqa: F401 (re-exported: the journey's vocabulary)
    CUSTOMER,
    LEAD,
    MSG_NO_DEMOTION,
    check_type_change,
    merged_type,
    type_for_new,
    type_kept,
)
from people.models import Origin, Person
from people.services import person_update


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
    return person_update(person=person, attributes={"type": CUSTOMER}, modified_from=modified_from)
