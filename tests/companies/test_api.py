import datetime as dt

import pytest

from companies.models import Company
from core.api import examples as ex
from identities.models import Identity
from tests.api_support import epoch_ms
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory

SEED_TIME = dt.datetime(2023, 3, 4, 19, 16, 41, tzinfo=dt.UTC)


@pytest.fixture
def contract_expiry(realm):
    return CustomAttributeDefinitionFactory(realm=realm, name="Contract Expiry", data_type="DATE")


@pytest.fixture
def orangepill(api, realm, contract_expiry):
    company_id = api.post("/v1/identities/company", ex.CREATE_COMPANY_REQUEST, format="json").json()["id"]
    Company.objects.filter(pk=company_id).update(created=SEED_TIME, modified=SEED_TIME)
    return company_id


def seed_shape(body):
    return {key: body[key] for key in ex.COMPANY_RESPONSE if key != "id"}


def test_create_company_as_the_seed(api, contract_expiry):
    response = api.post("/v1/identities/company", ex.CREATE_COMPANY_REQUEST, format="json")
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ex.CREATE_COMPANY_REQUEST} == ex.CREATE_COMPANY_REQUEST
    assert isinstance(body["id"], int)
    assert len(body["createdAt"]) == 19
    assert body["syncStatus"] == "local"
    assert body["infobipId"] is None


def test_create_company_errors(api, contract_expiry, orangepill):
    duplicate = api.post("/v1/identities/company", {"name": "ORANGEPILL"}, format="json")
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["data"]["fields"]["name"][0]
    bad = api.post("/v1/identities/company", {"notes": 5, "customAttributes": {"Nope": 1}, "x": 1}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["data"]["fields"]) == {"x"}
    bad = api.post("/v1/identities/company", {"notes": 5, "customAttributes": {"Nope": 1}}, format="json")
    assert set(bad.json()["data"]["fields"]) == {"name", "notes", "customAttributes.Nope"}


def test_update_company_as_the_seed(api, orangepill):
    response = api.patch(f"/v1/identities/companies/{orangepill}", ex.UPDATE_COMPANY_REQUEST, format="json")
    assert response.status_code == 200
    body = response.json()
    assert {**seed_shape(body), "modifiedAt": ex.COMPANY_CREATED} == seed_shape(ex.UPDATED_COMPANY_RESPONSE)
    api.patch(f"/v1/identities/companies/{orangepill}", {"tags": ["A"]}, format="json")
    tagged = api.patch(f"/v1/identities/companies/{orangepill}", {"tags": ["B"]}, format="json").json()
    assert tagged["tags"] == ["A", "B"]
    replaced = api.patch(f"/v1/identities/companies/{orangepill}?replaceTags=true", {"tags": ["C"]}, format="json")
    assert replaced.json()["tags"] == ["C"]


def test_get_company_of_identity_as_the_seed(api, realm, orangepill, seed_ids):
    IdentityFactory(
        id=ex.IDENTITY_ID, realm=realm, owner=ex.OWNER, country="US", currency="USD", type="person", alias="",
        data={"custom_field1": "custom_value1"}, created=epoch_ms(ex.CREATED_AT_MS),
        person=PersonFactory(id=255, realm=realm), company_id=orangepill,
    )  # fmt: skip
    for path in (f"/v1/identities/{ex.IDENTITY_ID}/company", f"/v1/identities/{ex.IDENTITY_ID}?populate=company"):
        body = api.get(path).json()
        assert {k: body[k] for k in ex.IDENTITY_COMPANY_RESPONSE if k != "company"} == {
            k: v for k, v in ex.IDENTITY_COMPANY_RESPONSE.items() if k != "company"
        }
        assert seed_shape(body["company"]) == seed_shape(ex.COMPANY_RESPONSE)
        assert body["company"]["id"] == orangepill


def test_identity_without_company_is_404(api, realm):
    identity = IdentityFactory(realm=realm)
    assert api.get(f"/v1/identities/{identity.id}/company").status_code == 404


def test_delete_company_answers_an_empty_array_on_both_spellings(api, realm, orangepill):
    identity = IdentityFactory(realm=realm, company_id=orangepill)
    response = api.delete(f"/v1/identitites/companies/{orangepill}", HTTP_IDEMPOTENCY_KEY="27373fabc392933deffda")
    assert response.status_code == 200
    assert response.json() == []
    assert Identity.objects.get(pk=identity.pk).company_id is None
    assert api.delete(f"/v1/identities/companies/{orangepill}").status_code == 404


def test_companies_list(api, realm, django_assert_max_num_queries):
    companies = [CompanyFactory(realm=realm, name=f"C{index:02d}") for index in range(25)]
    for company in companies:
        company.tags.create(realm=realm, name=f"T{company.pk}")
    body = api.get("/v1/identities/companies?limit=5&page=2&includeTotalCount=true").json()
    assert [c["name"] for c in body["companies"]] == [f"C{index:02d}" for index in range(5, 10)]
    assert body["totalCount"] == 25
    assert api.get("/v1/identities/companies?limit=5&page=6").json()["companies"] == []
    assert api.get("/v1/identities/companies?limit=1001").status_code == 400
    with django_assert_max_num_queries(5) as small:
        api.get("/v1/identities/companies?limit=1")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("/v1/identities/companies?limit=25").json()["companies"]) == 25
