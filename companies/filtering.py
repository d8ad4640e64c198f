"""The companies `filter` parameter (Infobip's filter language without #notContain) as a Django Q."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower

from companies.models import Company
from infobip.contract import filters
from infobip.contract.filters import FilterError
from people.filtering import FilterTranslator, check_filter_text, definitions_for, invalid_filter

COMPANY_COLUMNS = {
    "id": "pk",
    "name": "name",
    "externalId": "external_id",
    "notes": "notes",
    "country": "country",
    "region": "region",
    "accountManager": "account_manager",
    "customerStage": "customer_stage",
    "industry": "industry",
    "segment": "segment",
    "vatNumber": "vat_number",
    "origin": "origin",
    "modifiedFrom": "modified_from",
    "createdAt": "created",
    "modifiedAt": "modified",
}


def company_has_tag(name: str) -> Q:
    links = Company.tags.through.objects.annotate(lname=Lower("tag__name")).filter(
        company_id=OuterRef("pk"), lname=name.lower()
    )
    return Q(Exists(links))


def company_has_domain(domain: str) -> Q:
    return Q(domains__contains=[domain.strip().lower()])


def company_filter_q(realm, raw: str) -> Q:
    check_filter_text(raw)
    try:
        node = filters.parse_company_filter(raw)
    except FilterError as exc:
        raise invalid_filter(str(exc)) from None
    translator = FilterTranslator(
        columns=COMPANY_COLUMNS,
        list_fields={"tags": company_has_tag, "domains": company_has_domain},
        definitions=definitions_for(realm, node),
    )
    return translator.q(node)
