"""Query counts of the API's hot endpoints are part of their contract (bench/api.py measures them): an identity
with its person is one query, a page of persons a fixed number whatever its size, a create nine."""

import json

import pytest

from tests.identities.factories import IdentityFactory
from tests.people.factories import ChannelProfileFactory, PersonFactory

FILTER = json.dumps({"#and": [{"#startsWith": {"lastName": "Smi"}}, {"#contains": {"tags": "VIP Customers"}}]})


@pytest.fixture
def warm(api):
    """The API key is cached after the first request (identities.keycache); the counts are of later ones."""
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
        (f"filter={FILTER}", 3),  # the filter's tag ids, the page's ids, the page's JSON
        ("", 2),
        ("includeTotalCount=true", 3),
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


def test_create_person_and_identity_is_nine_queries(warm, django_assert_num_queries):
    body = {
        "country": "HR", "type": "person", "alias": "bench-1",
        "person": {"firstName": "Bench", "lastName": "Person", "tags": ["Bench"],
                   "contactInformation": {"email": [{"address": "bench.1@example.com"}]}},
    }  # fmt: skip
    warm.post("/v1/identities/tags", {"name": "Bench"}, format="json")
    # transaction, uniqueness check, person, email, tag lookup, tag link, identity, commit, the response
    with django_assert_num_queries(9):
        response = warm.post("/v1/identities/person", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["person"]["tags"] == ["Bench"]
