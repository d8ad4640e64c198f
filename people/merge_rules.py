"""Infobip's merge rule and the journey's type rule, once: Customer beats Lead (a Customer never becomes a
Lead again), an empty value is filled, otherwise the newer value wins.

Two places apply it: merging several profiles here (``people.merging``: the conflict goes to the best-ranked
profile, a Customer before a Lead, then the most recently modified) and the sync's pull of one person seen on
both sides (``infobip.sync``: the type stays Customer if either side says so, an empty side is filled from the
other, else the side modified last wins). Pure functions: no database, no Django models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

CUSTOMER = "CUSTOMER"
LEAD = "LEAD"
MSG_NO_DEMOTION = "a Customer never becomes a Lead again (Lead → Customer is one way); the type stays CUSTOMER"


def is_empty(value: Any) -> bool:
    return value is None or value == ""


def profile_rank(person: Any) -> tuple[int, Any]:
    """How strongly a profile's values win a conflict between profiles: Customers beat Leads, then newer."""
    return (1 if person.type == CUSTOMER else 0, person.modified)


def merged_type(ours: str, theirs: str) -> str:
    """A person who is a Customer on either side stays a Customer (Lead → Customer is a one-way street)."""
    return CUSTOMER if CUSTOMER in (ours, theirs) else theirs


def type_for_new(requested: str | None) -> str:
    """A person created without a type is a Customer (Infobip's default)."""
    return requested or CUSTOMER


def type_kept(current: str, requested: str | None) -> str:
    """The type after a write that must not fail on the type (import rows, the sync, merges): Customer wins."""
    return merged_type(current, requested) if requested else current


def check_type_change(current: str, requested: str | None, errors: Any, field: str = "type") -> None:
    """An explicit write (API, admin) asking a Customer to become a Lead is refused, naming the rule."""
    if current == CUSTOMER and requested == LEAD:
        errors.add(field, MSG_NO_DEMOTION)


def two_sided_winner(name: str, ours: Any, theirs: Any, *, theirs_newer: bool) -> Any:
    """The value one person keeps when two copies of it disagree (ours here, theirs in Infobip).

    Values are compared as given (the caller makes them comparable: ``""`` for empty, ISO text for dates)."""
    if name == "type":
        return merged_type(ours, theirs)
    if is_empty(theirs):
        return ours  # Infobip's empty value is filled from ours
    if is_empty(ours) or theirs_newer:
        return theirs
    return ours


def newer(remote_time: dt.datetime | None, local_time: dt.datetime) -> bool:
    """True when Infobip's ``modifiedAt`` is known and later than our ``modified``."""
    return remote_time is not None and remote_time > local_time
