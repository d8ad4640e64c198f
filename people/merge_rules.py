"""Infobip's merge rule, once: Customer beats Lead, an empty value is filled, otherwise the newer value wins.

Two places apply it: merging several profiles here (``people.merging``: the conflict goes to the best-ranked
profile, a Customer before a Lead, then the most recently modified) and the sync's pull of one person seen on
both sides (``infobip.sync``: the type stays Customer if either side says so, an empty side is filled from the
other, else the side modified last wins). Pure functions: no database, no Django models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

CUSTOMER = "CUSTOMER"


def is_empty(value: Any) -> bool:
    return value is None or value == ""


def profile_rank(person: Any) -> tuple[int, Any]:
    """How strongly a profile's values win a conflict between profiles: Customers beat Leads, then newer."""
    return (1 if person.type == CUSTOMER else 0, person.modified)


def merged_type(ours: str, theirs: str) -> str:
    """A person who is a Customer on either side stays a Customer (Lead → Customer is a one-way street)."""
    return CUSTOMER if CUSTOMER in (ours, theirs) else theirs


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
