"""The filter language over the API: each operator, nesting, custom attributes, tags, errors."""

import datetime as dt
import json
from urllib.parse import quote

import pytest

from people.models import Person
from tests.companies.factories import CompanyFactory
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory


@pytest.fixture
def people(realm):
    for name, data_type in [("Company", "STRING"), ("Score", "INTEGER"), ("Value", "DECIMAL"), ("Active", "BOOLEAN"),
                            ("Contract Expiry", "DATE"), ("Cart", "LIST_OF_OBJECTS")]:  # fmt: skip
        CustomAttributeDefinitionFactory(realm=realm, name=name, data_type=data_type)
    jane = PersonFactory(
        realm=realm, first_name="Jane", last_name="Smith", gender="FEMALE", birth_date=dt.date(1966, 1, 15),
        tags=["VIP Client", "Newsletter"], external_id="J-1",
        custom_attributes={"Company": "Acme", "Score": 42, "Value": 9.5, "Active": True,
                           "Contract Expiry": "2025-06-01"},
    )  # fmt: skip
    alex = PersonFactory(
        realm=realm, first_name="Alex", last_name="Doe", gender="MALE", birth_date=dt.date(1990, 5, 1),
        tags=["vip"], external_id=None, custom_attributes={"Company": "Other Co", "Score": 7},
    )  # fmt: skip
    lead = PersonFactory(realm=realm, first_name="Alex", last_name="Smithers", type="LEAD", middle_name="Q")
    Person.objects.filter(pk=jane.pk).update(created=dt.datetime(2024, 3, 1, 10, 20, 30, 500, tzinfo=dt.UTC))
    Person.objects.filter(pk=alex.pk).update(created=dt.datetime(2024, 3, 2, 0, 0, 0, tzinfo=dt.UTC))
    return {"jane": jane.pk, "alex": alex.pk, "lead": lead.pk}


def names(api, people, filter_):
    response = api.get(f"/v1/identities/persons?limit=1000&filter={quote(json.dumps(filter_))}")
    assert response.status_code == 200, response.json()
    by_id = {pk: name for name, pk in people.items()}
    return {by_id[p["id"]] for p in response.json()["persons"]}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"firstName": "Jane"}, {"jane"}),
        ({"firstName": "jane"}, set()),
        ({"#eq": {"lastName": "Doe"}}, {"alex"}),
        ({"#ne": {"firstName": "Alex"}}, {"jane"}),
        ({"#ne": {"externalId": "J-1"}}, {"alex", "lead"}),  # a missing value matches #ne
        ({"#contains": {"lastName": "MIT"}}, {"jane", "lead"}),
        ({"#contains": {"lastName": "%"}}, set()),  # LIKE wildcards are plain characters
        ({"#notContain": {"lastName": "smith"}}, {"alex"}),
        ({"#notContain": {"externalId": "J"}}, {"alex", "lead"}),
        ({"#startsWith": {"lastName": "smi"}}, {"jane", "lead"}),
        ({"#endsWith": {"lastName": "ERS"}}, {"lead"}),
        ({"#gt": {"birthDate": "1966-01-15"}}, {"alex"}),
        ({"#gte": {"birthDate": "1966-01-15"}}, {"jane", "alex"}),
        ({"#lt": {"birthDate": "1990-05-01"}}, {"jane"}),
        ({"#lte": {"birthDate": "1990-05-01"}}, {"jane", "alex"}),
        ({"gender": "MALE"}, {"alex"}),
        ({"type": "LEAD"}, {"lead"}),
        ({"#contains": {"tags": "VIP Client"}}, {"jane"}),
        ({"#contains": {"tags": "vip client"}}, {"jane"}),  # tag names ignore case
        ({"#contains": {"tags": "VIP"}}, {"alex"}),  # exact name, not a substring
        ({"#notContain": {"tags": "vip"}}, {"jane", "lead"}),
        ({"#eq": {"createdAt": "2024-03-01"}}, {"jane"}),
        ({"#eq": {"createdAt": "2024-03-01T10:20:30"}}, {"jane"}),
        ({"#gt": {"createdAt": "2024-03-01T10:20:30"}}, {"alex", "lead"}),
        ({"#lte": {"createdAt": "2024-03-01T10:20:30"}}, {"jane"}),
        ({"#lt": {"createdAt": "2024-03-02"}}, {"jane"}),
        ({"#gte": {"createdAt": "2024-03-02"}}, {"alex", "lead"}),
        ({"#ne": {"createdAt": "2024-03-01"}}, {"alex", "lead"}),
        ({"customAttributes.Company": "Acme"}, {"jane"}),
        ({"#ne": {"customAttributes.Company": "Acme"}}, {"alex", "lead"}),
        ({"#contains": {"customAttributes.Company": "co"}}, {"alex"}),
        ({"#notContain": {"customAttributes.Company": "co"}}, {"jane", "lead"}),
        ({"#gt": {"customAttributes.Score": 40}}, {"jane"}),
        ({"#lte": {"customAttributes.Score": 42}}, {"jane", "alex"}),
        ({"#gte": {"customAttributes.Value": 9.5}}, {"jane"}),
        ({"customAttributes.Active": True}, {"jane"}),
        ({"#gte": {"customAttributes.Contract Expiry": "2025-01-01"}}, {"jane"}),
        ({"#lt": {"customAttributes.Contract Expiry": "2025-01-01"}}, set()),
        ({"data\u0001Company": "Acme"}, {"jane"}),
        ({"#gt": {"id": 0}}, {"jane", "alex", "lead"}),
        ({"#gt": {"id": 1e30}}, set()),
        ({"#or": [{"#lt": {"id": 1e30}}, {"firstName": "Nobody"}]}, {"jane", "alex", "lead"}),
        ({"#eq": {"id": 1.5}}, set()),
        ({"firstName": "Alex", "lastName": "Doe"}, {"alex"}),
        ({"#and": [{"firstName": "Alex"}, {"#contains": {"tags": "vip"}}]}, {"alex"}),
        (
            {"#or": [{"#and": [{"firstName": "Alex"}, {"type": "LEAD"}]}, {"#and": [{"gender": "FEMALE"},
             {"#gt": {"customAttributes.Score": 5}}]}]},
            {"lead", "jane"},
        ),
    ],
)  # fmt: skip
def test_operators(api, people, filter_, expected):
    assert names(api, people, filter_) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{bad", "malformed JSON"),
        ("[1]", "must be a JSON object"),
        ('{"#like": {"firstName": "A"}}', "unknown operator '#like'"),
        ('{"nickName": "A"}', "unknown field 'nickName'"),
        ('{"#gt": {"firstName": "A"}}', "operator #gt cannot be used on string field 'firstName'"),
        ('{"birthDate": "2023-02-30"}', "'2023-02-30' is not a valid date"),
        ('{"#lt": {"createdAt": "2023-13-01T00:00:00"}}', "is not a valid date or timestamp"),
        ('{"customAttributes.Unknown": "x"}', "customAttributes.Unknown is not a defined custom attribute"),
        ('{"customAttributes.Score": "many"}', "customAttributes.Score: expected INTEGER, got string"),
        ('{"#contains": {"customAttributes.Score": "4"}}', "cannot be used on customAttributes.Score of type INTEGER"),
        ('{"#gt": {"customAttributes.Active": "x"}}', "expected BOOLEAN"),
        ('{"customAttributes.Cart": "x"}', "LIST_OF_OBJECTS"),
        ('{"#gt": {"id": Infinity}}', "is not a finite number"),
        ('{"#or": [{"#and": [{"#eq": {"city": 1}}]}]}', '(at $["#or"][0]["#and"][0]["#eq"]["city"])'),
    ],
)
def test_invalid_filters_are_400_saying_what_is_wrong(api, people, raw, message):
    response = api.get(f"/v1/identities/persons?filter={quote(raw)}")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "invalid_filter"
    assert message in body["data"]["fields"]["filter"][0]
    assert body["message"].startswith("Invalid filter: ")


def test_companies_filter(api, realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Tier", data_type="STRING")
    infobip = CompanyFactory(
        realm=realm, name="Infobip", domains=["infobip.com"], notes="one", custom_attributes={"Tier": "A"}
    )
    other = CompanyFactory(realm=realm, name="Other", notes="another one")

    def ids(filter_):
        response = api.get(f"/v1/identities/companies?filter={quote(json.dumps(filter_))}")
        assert response.status_code == 200, response.json()
        return {c["id"] for c in response.json()["companies"]}

    assert ids({"#or": [{"name": "Infobip"}, {"#contains": {"notes": "another"}}]}) == {infobip.pk, other.pk}
    assert ids({"#contains": {"domains": "INFOBIP.com"}}) == {infobip.pk}
    assert ids({"customAttributes.Tier": "A"}) == {infobip.pk}
    response = api.get(f"/v1/identities/companies?filter={quote(json.dumps({'#notContain': {'notes': 'x'}}))}")
    assert response.status_code == 400
    assert "not supported here" in response.json()["data"]["fields"]["filter"][0]
