import pytest
from django.urls import reverse

from tests.companies.factories import CompanyFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:companies_company_changelist")


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("jadran", ["Jadran Trgovina"]),
        ("TRGOVINA", ["Jadran Trgovina"]),
        ("zelic", ["Želić i sinovi"]),
        ("želić", ["Želić i sinovi"]),
        ("zélic", ["Želić i sinovi"]),
        ("HR0042", ["Acme"]),
        ("nothing", []),
    ],
)
def test_company_search_ignores_case_and_accents(admin_client, realm, term, expected):
    CompanyFactory(realm=realm, name="Jadran Trgovina")
    CompanyFactory(realm=realm, name="Želić i sinovi")
    CompanyFactory(realm=realm, name="Acme", vat_number="HR0042")
    response = admin_client.get(CHANGELIST, {"q": term})
    assert sorted(c.name for c in response.context["cl"].result_list) == expected
