"""Reads of companies that are more than one filter."""

from __future__ import annotations

from django.db.models import QuerySet

from companies.filtering import company_filter_q
from companies.models import Company
from companies.representation import COMPANY_PREFETCH
from core.errors import NotFound


def company_list(realm, filter_raw: str | None) -> QuerySet:
    """The realm's companies matching an Infobip `filter`, with their tags prefetched."""
    queryset = Company.objects.filter(realm=realm)
    if filter_raw:
        queryset = queryset.filter(company_filter_q(realm, filter_raw))
    return queryset.prefetch_related(*COMPANY_PREFETCH)


def company_get(realm, company_id: int) -> Company:
    """A company of `realm` by id; another realm's id is simply not found."""
    company = Company.objects.filter(realm=realm, pk=company_id).prefetch_related(*COMPANY_PREFETCH).first()
    if company is None:
        raise NotFound(f"company {company_id} does not exist")
    return company
