"""Companies rendered the way Infobip renders them (IamCompanyV2), plus our sync state."""

from __future__ import annotations

from typing import Any

from companies.models import Company
from people.representation import infobip_time


def company_as_infobip(company: Company) -> dict[str, Any]:
    """The writable part, as sent to Infobip's companies API (uses prefetched tags)."""
    return {
        "name": company.name,
        "externalId": company.external_id,
        "notes": company.notes,
        "country": company.country,
        "region": company.region,
        "accountManager": company.account_manager,
        "customerStage": company.customer_stage,
        "industry": company.industry,
        "segment": company.segment,
        "vatNumber": company.vat_number,
        "domains": list(company.domains),
        "tags": sorted(tag.name for tag in company.tags.all()),
        "customAttributes": dict(company.custom_attributes),
    }


def company_as_dict(company: Company) -> dict[str, Any]:
    """The full company of our API: Infobip's shape plus our id and sync state (COMPANY_PREFETCH)."""
    return {
        "createdAt": infobip_time(company.created),
        "modifiedAt": infobip_time(company.modified),
        "id": company.pk,
        **company_as_infobip(company),
        "origin": company.origin,
        "modifiedFrom": company.modified_from,
        "infobipId": company.infobip_id,
        "syncStatus": company.sync_status,
        "syncError": company.sync_error or None,
    }


COMPANY_PREFETCH = ("tags",)
