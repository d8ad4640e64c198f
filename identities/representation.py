"""Identities rendered as Orangepill renders them: `person`/`company` are ids (strings) unless populated."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Prefetch, QuerySet

from companies.representation import COMPANY_PREFETCH, company_as_dict
from core.errors import ValidationError
from identities.models import Identity
from people.representation import adopt_aggregates, person_aggregates, person_as_dict

POPULATE_CHOICES = ("person", "company")


def parse_populate(raw: str | None) -> frozenset[str]:
    """`?populate=person,company` → {"person", "company"}; unknown names are a 400."""
    if not raw:
        return frozenset()
    names = {name.strip() for name in raw.split(",") if name.strip()}
    unknown = sorted(names - set(POPULATE_CHOICES))
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown)
        raise ValidationError.single("populate", f"cannot populate {shown}; use person, company or both")
    return frozenset(names)


PERSON_PREFIX = "person_"


def with_populated(queryset: QuerySet, populate: Collection[str]) -> QuerySet:
    """The joins, aggregates and prefetches that render `populate` without a query per row: with
    populate=person the person and its tags/contacts come in the identity's own query."""
    related = [name for name in POPULATE_CHOICES if name in populate]
    if related:
        queryset = queryset.select_related(*related)
    if "person" in populate:
        queryset = queryset.annotate(**person_aggregates("person_id", prefix=PERSON_PREFIX))
    if "company" in populate:
        queryset = queryset.prefetch_related(*(Prefetch(f"company__{name}") for name in COMPANY_PREFETCH))
    return queryset


def identity_as_dict(identity: Identity, populate: Collection[str] = ()) -> dict[str, Any]:
    if "person" in populate and identity.person_id:
        person_row = identity.person
        if hasattr(identity, PERSON_PREFIX + "agg_tags"):
            adopt_aggregates(person_row, identity, PERSON_PREFIX)
        person: Any = person_as_dict(person_row)
    else:
        person = str(identity.person_id) if identity.person_id else None
    if "company" in populate and identity.company_id:
        company: Any = company_as_dict(identity.company)
    else:
        company = str(identity.company_id) if identity.company_id else None
    return {
        "id": identity.id,
        "owner": identity.owner,
        "country": identity.country,
        "currency": identity.currency,
        "type": identity.type,
        "alias": identity.alias,
        "person": person,
        "company": company,
        "data": identity.data,
        "created_at": str(identity.created_at_ms),
        "error": None,
    }
