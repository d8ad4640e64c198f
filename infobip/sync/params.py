"""A sync run's parameters (what staff or the API asked for) and its counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import iso
from core.errors import ValidationError
from infobip.models import SyncRun

MAX_LIMIT = 1000  # Infobip's largest page
MAX_ERRORS = 500


class SyncCancelled(Exception):
    pass


def empty_counts() -> dict[str, dict[str, int]]:
    return {
        "pull": {"seen": 0, "created": 0, "updated": 0, "unchanged": 0, "linked": 0, "pushed_back": 0, "skipped": 0},
        "step1": {"linked": 0, "by_external_id": 0, "by_email": 0, "by_phone": 0, "conflicts": 0, "unmatched": 0},
        "step2": {"external_ids_set": 0, "conflicts": 0},
        "step3": {"identities_created": 0},
    }


@dataclass
class RunParams:
    country: str
    currency: str
    limit: int | None
    page: int | None
    filter: Any

    @property
    def bounded(self) -> bool:
        return self.limit is not None or self.page is not None


def run_params(run: SyncRun) -> RunParams:
    params = run.params or {}

    def number(name: str) -> int | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError.single(name, "must be an integer") from None

    limit, page = number("limit"), number("page")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.single("limit", f"must be between 1 and {MAX_LIMIT}")
    if page is not None and page < 1:
        raise ValidationError.single("page", "must be 1 or more")
    if page is not None and limit is None:
        limit = 20  # Infobip's default page size
    if limit is not None and page is None:
        page = 1
    country = str(params.get("country") or run.realm.default_country).upper()
    currency = str(params.get("currency") or run.realm.default_currency).upper()
    if not iso.is_country(country):
        raise ValidationError.single("country", f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    if not iso.is_currency(currency):
        raise ValidationError.single("currency", f"{currency!r} is not an ISO 4217 currency code")
    return RunParams(
        country=country,
        currency=currency,
        limit=limit,
        page=page,
        filter=params.get("filter") or None,
    )
