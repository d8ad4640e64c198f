"""Query counts of the API's hot endpoints are part of their contract (bench/api.py measures them): an identity
with its person is one query, a page of persons a fixed number whatever its size, a create seven."""

import json

import pytest

from tests.identities.factories import IdentityFactory
from tests.people.factories import ChannelProfileFactory, PersonFactory

FILTER = json.dumps({"#and": [{"#startsWith": {"lastName": "Smi"}}, {"#contains": {"tags": "VIP Customers"}}]})


@pytest.fixture
def warm(api, settings):
    """The API key is cached after the first request (identities.keycache); the counts are of later ones. The
    cache lives long enough for the test on a loaded machine (its 5 s default could expire mid-test)."""
    settings.API_KEY_CACHE_SECONDS = 600
    assert api.get("/v1/identities/tags").status_code == 200
    return api


def persons(realm, count, start=0):
    made = []
    for n in range(start, start + count):
        person = PersonFactory(
            realm=realm, last_name=f"Smith{n}", phones=[f"3859910{n:05d}"], emails=[f"p{n}@example.com"],
            tags=["VIP Customers", f"Tag {n}"],
        )  # fmt: skip
        ChannelProfileFactory(person=person, channel="facebook", identifier=f"f{n}")
        made.append(person)
    return made


@pytest.mark.parametrize("populate", ["?populate=person", ""])
def test_identity_detail_is_one_query(warm, realm, populate, django_assert_num_queries):
    person = persons(realm, 1)[0]
    identity = IdentityFactory(realm=realm, person=person)
    with django_assert_num_queries(1):
        response = warm.get(f"/v1/identities/{identity.pk}{populate}")
    assert response.status_code == 200
    if populate:
        assert response.json()["person"]["tags"] == ["Tag 0", "VIP Customers"]
        assert response.json()["person"]["contactInformation"]["facebook"]


@pytest.mark.parametrize(
    ("query", "queries"),
    [
        (f"filter={FILTER}", 2),  # the filter's tag ids, the page (ids and JSON in one statement)
        ("", 1),
        ("includeTotalCount=true", 2),
    ],
)
def test_persons_page_is_a_fixed_number_of_queries(warm, realm, query, queries, django_assert_num_queries):
    persons(realm, 2)
    with django_assert_num_queries(queries):
        small = warm.get(f"/v1/identities/persons?limit=100&{query}")
    persons(realm, 30, start=2)
    with django_assert_num_queries(queries):
        large = warm.get(f"/v1/identities/persons?limit=100&{query}")
    assert len(small.json()["persons"]) == 2
    assert len(large.json()["persons"]) == 32


def test_create_person_and_identity_is_eight_queries(warm, django_assert_num_queries):
    body = {
        "country": "HR", "type": "person", "alias": "bench-1",
        "person": {"firstName": "Bench", "lastName": "Person", "tags": ["Bench"],
                   "contactInformation": {"email": [{"address": "bench.1@example.com"}]}},
    }  # fmt: skip
    warm.post("/v1/identities/tags", {"name": "Bench"}, format="json")
    # transaction, uniqueness check and tag lookup, person, email, tag link, history row, identity, commit
    with django_assert_num_queries(8):
        response = warm.post("/v1/identities/person", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["person"]["tags"] == ["Bench"]


def test_the_create_answer_rendered_from_what_was_written_is_what_a_get_answers(warm, realm, seed_ids):
    from core.api import examples as ex
    from tests.companies.factories import CompanyFactory
    from tests.people.factories import CustomAttributeDefinitionFactory, TagFactory

    CompanyFactory(id=3, realm=realm)
    TagFactory(realm=realm, name="vip CUSTOMERS")  # an existing tag in another spelling: its spelling wins
    CustomAttributeDefinitionFactory(realm=realm, name="Contract Expiry", data_type="DATE")
    CustomAttributeDefinitionFactory(realm=realm, name="Company", data_type="STRING")
    CustomAttributeDefinitionFactory(
        realm=realm, name="ShoppingCartList", data_type="LIST_OF_OBJECTS",
        object_schema=ex.CUSTOM_ATTRIBUTE_REQUEST["objectSchema"],
    )  # fmt: skip
    body = ex.example(ex.CREATE_PERSON_IDENTITY_REQUEST)
    body["person"]["contactInformation"]["phone"] = [{"number": "+41 79 302 67 27"}, {"number": "+385 99 123 4567"}]
    created = warm.post("/v1/identities/person", body, format="json")
    assert created.status_code == 201, created.json()
    fetched = warm.get(f"/v1/identities/{created.json()['id']}?populate=person")
    assert created.json() == fetched.json()
    assert created.json()["person"]["tags"] == ["New Customers", "vip CUSTOMERS"]
    assert created.json()["person"]["contactInformation"]["phone"] == [{"number": "41793026727"},
                                                                      {"number": "385991234567"}]  # fmt: skip
