import pytest

from companies import services
from companies.models import Company
from core.errors import ValidationError

pytestmark = pytest.mark.django_db


def test_company_names_are_unique_per_realm_case_insensitively(realm, other_realm):
    services.company_create(realm=realm, attributes={"name": "Orangepill"})
    with pytest.raises(ValidationError, match="already exists"):
        services.company_create(realm=realm, attributes={"name": "ORANGEPILL"})
    services.company_create(realm=other_realm, attributes={"name": "orangepill"})
    assert Company.objects.count() == 2


def test_company_patch_keeps_fields_and_appends_tags(realm):
    company = services.company_create(
        realm=realm, attributes={"name": "Orangepill", "customer_stage": "Active"}, tags=["A"]
    )
    services.company_update(company=company, attributes={"customer_stage": "Inactive"}, tags=["B"])
    company.refresh_from_db()
    assert company.name == "Orangepill"
    assert company.customer_stage == "Inactive"
    assert sorted(company.tags.values_list("name", flat=True)) == ["A", "B"]
    services.company_update(company=company, tags=["C"], replace_tags=True)
    assert list(company.tags.values_list("name", flat=True)) == ["C"]


def test_company_requires_a_name_and_respects_limits(realm):
    with pytest.raises(ValidationError) as info:
        services.company_create(realm=realm, attributes={"name": "", "vat_number": "x" * 51})
    assert set(info.value.fields) == {"name", "vatNumber"}
