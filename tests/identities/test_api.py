import pytest

from core.api import examples as ex
from identities.models import Identity
from tests.api_support import epoch_ms
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import PersonFactory


@pytest.fixture
def seed_identity(realm, seed_ids):
    """The identity of the seed's examples: id, owner, created_at exactly as there."""
    return IdentityFactory(
        id=ex.IDENTITY_ID, realm=realm, owner=ex.OWNER, country="US", currency="USD", type="person", alias="",
        data={"custom_field1": "custom_value1"}, created=epoch_ms(ex.CREATED_AT_MS),
    )  # fmt: skip


def without_alias(body):
    return {key: value for key, value in body.items() if key != "alias"}


def test_create_identity_defaults_to_the_realm_and_the_keys_owner(api, realm, api_key):
    response = api.post("/v1/identities", {"type": "neutral", "data": {"a": 1}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["country"] == "HR"
    assert body["currency"] == "EUR"
    assert body["owner"] == api_key.owner
    assert body["person"] is None
    assert body["company"] is None
    assert body["error"] is None
    assert len(body["id"]) == 24
    identity = Identity.objects.get(pk=body["id"])
    assert body["created_at"] == str(identity.created_at_ms)


def test_create_identity_reports_every_bad_field(api):
    response = api.post("/v1/identities", {"country": "XX", "currency": "EURO", "type": "robot", "x": 1}, format="json")
    assert response.status_code == 400
    fields = response.json()["data"]["fields"]
    assert set(fields) == {"country", "currency", "type", "x"}
    assert response.json()["name"] == "ValidationError"


def test_get_identity_is_the_seed_shape(api, seed_identity):
    response = api.get(f"/v1/identities/{ex.IDENTITY_ID}")
    assert response.status_code == 200
    assert without_alias(response.json()) == {**without_alias(ex.UNASSIGNED_RESPONSE), "company": None}


def test_assign_and_unassign_company_as_the_seed(api, realm, seed_identity):
    CompanyFactory(id=3, realm=realm)
    seed_identity.person = PersonFactory(id=255, realm=realm)
    seed_identity.save()

    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}", ex.ASSIGN_COMPANY_REQUEST, format="json")
    assert response.status_code == 200
    assert without_alias(response.json()) == ex.COMPANY_ASSIGNED_RESPONSE

    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}", ex.UNASSIGN_COMPANY_REQUEST, format="json")
    assert response.status_code == 200
    assert without_alias(response.json()) == ex.COMPANY_UNASSIGNED_RESPONSE


def test_assigning_another_realms_company_is_a_field_error(api, seed_identity, other_realm):
    foreign = CompanyFactory(realm=other_realm)
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}", {"company": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert "company" in response.json()["data"]["fields"]
    assert Identity.objects.get(pk=ex.IDENTITY_ID).company_id is None


@pytest.mark.parametrize("value", ["abc", True, 1.5, -3, "99999999999999999999999"])
def test_assigning_a_non_id_is_a_field_error(api, seed_identity, value):
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}", {"company": value, "person": value}, format="json")
    assert response.status_code == 400
    assert set(response.json()["data"]["fields"]) == {"company", "person"}


def test_patch_changes_any_identity_field(api, seed_identity):
    body = {"country": "hr", "currency": "EUR", "type": "company", "alias": "ACME", "data": {"k": "v"},
            "owner": "0123456789abcdef01234567"}  # fmt: skip
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}", body, format="json")
    assert response.status_code == 200
    assert {k: response.json()[k] for k in body} == {**body, "country": "HR"}


def test_populate_person_company_and_both(api, realm, seed_identity):
    person = PersonFactory(realm=realm, first_name="Jane", phones=["41793026727"], tags=["VIP"])
    company = CompanyFactory(realm=realm, name="Orangepill")
    Identity.objects.filter(pk=ex.IDENTITY_ID).update(person=person, company=company)

    plain = api.get(f"/v1/identities/{ex.IDENTITY_ID}").json()
    assert plain["person"] == str(person.pk)
    assert plain["company"] == str(company.pk)
    with_person = api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=person").json()
    assert with_person["person"]["firstName"] == "Jane"
    assert with_person["person"]["contactInformation"]["phone"] == [{"number": "41793026727"}]
    assert with_person["person"]["tags"] == ["VIP"]
    assert with_person["company"] == str(company.pk)
    with_company = api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=company").json()
    assert with_company["company"]["name"] == "Orangepill"
    assert with_company["person"] == str(person.pk)
    both = api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=person,company").json()
    assert both["person"]["id"] == person.pk
    assert both["company"]["id"] == company.pk


def test_populate_of_an_unknown_relation_is_a_400(api, seed_identity):
    response = api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=person,owner")
    assert response.status_code == 400
    assert "populate" in response.json()["data"]["fields"]


def test_populate_without_a_person_keeps_null(api, seed_identity):
    assert api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=person,company").json()["person"] is None


def test_delete_identity_answers_it_and_keeps_its_person(api, realm, seed_identity):
    person = PersonFactory(realm=realm)
    Identity.objects.filter(pk=ex.IDENTITY_ID).update(person=person)
    response = api.delete(f"/v1/identities/{ex.IDENTITY_ID}")
    assert response.status_code == 200
    assert response.json()["id"] == ex.IDENTITY_ID
    assert not Identity.objects.filter(pk=ex.IDENTITY_ID).exists()
    person.refresh_from_db()
    assert api.get(f"/v1/identities/{ex.IDENTITY_ID}").status_code == 404


def test_misspelled_alias_serves_the_same_resources(api, seed_identity):
    canonical = api.get(f"/v1/identities/{ex.IDENTITY_ID}")
    alias = api.get(f"/v1/identitites/{ex.IDENTITY_ID}")
    assert alias.status_code == 200
    assert alias.json() == canonical.json()
    assert api.get("/v1/identitites").json()["identities"][0]["id"] == ex.IDENTITY_ID


@pytest.mark.parametrize("path", ["/v1/identities/634b56217f6a7b0be52dfff0", "/v1/identities/XYZ", "/v1/nothing"])
def test_unknown_identities_and_urls_are_404_envelopes(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["name"] == "NotFound"
    assert response.json()["code"] == 404


def make_identities(realm, count, **fields):
    return [IdentityFactory(realm=realm, **fields) for _ in range(count)]


def test_list_filters(api, realm):
    person = PersonFactory(realm=realm)
    company = CompanyFactory(realm=realm)
    a = IdentityFactory(realm=realm, type="person", country="US", person=person, alias="Alpha")
    b = IdentityFactory(realm=realm, type="company", country="HR", company=company, alias="beta")
    c = IdentityFactory(realm=realm, type="neutral", country="HR")

    def ids(query):
        response = api.get(f"/v1/identities?{query}")
        assert response.status_code == 200, response.json()
        return {item["id"] for item in response.json()["identities"]}

    assert ids("") == {a.id, b.id, c.id}
    assert ids("type=person") == {a.id}
    assert ids("country=hr") == {b.id, c.id}
    assert ids(f"person={person.pk}") == {a.id}
    assert ids("person=null") == {b.id, c.id}
    assert ids(f"company={company.pk}") == {b.id}
    assert ids("alias=ALPHA") == {a.id}
    assert api.get("/v1/identities?type=robot").status_code == 400
    assert api.get("/v1/identities?person=abc").status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("page=0", "page"),
     ("orderBy=name:asc", "orderBy"), ("orderBy=created_at:up", "orderBy"),
     ("includeTotalCount=maybe", "includeTotalCount")],
)  # fmt: skip
def test_list_parameter_errors(api, query, field):
    response = api.get(f"/v1/identities?{query}")
    assert response.status_code == 400
    assert field in response.json()["data"]["fields"]


def test_list_pages(api, realm):
    created = make_identities(realm, 5)
    first = api.get("/v1/identities?limit=2&page=1&includeTotalCount=true").json()
    assert first["limit"] == 2
    assert first["page"] == 1
    assert first["totalCount"] == 5
    assert first["orderBy"] == "created_at:desc"
    assert [i["id"] for i in first["identities"]] == [i.id for i in reversed(created)][:2]
    last = api.get("/v1/identities?limit=2&page=3").json()
    assert len(last["identities"]) == 1
    assert "totalCount" not in last
    beyond = api.get("/v1/identities?limit=2&page=999999").json()
    assert beyond["identities"] == []
    assert len(api.get("/v1/identities?limit=1000").json()["identities"]) == 5


def test_list_query_count_does_not_grow_with_the_page(api, realm, django_assert_max_num_queries):
    for index in range(30):
        IdentityFactory(realm=realm, person=PersonFactory(realm=realm, phones=[f"3859912{index:05d}"], tags=["A"]),
                        company=CompanyFactory(realm=realm))  # fmt: skip
    with django_assert_max_num_queries(8) as small:
        assert len(api.get("/v1/identities?limit=2&populate=person,company").json()["identities"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("/v1/identities?limit=30&populate=person,company").json()["identities"]) == 30
