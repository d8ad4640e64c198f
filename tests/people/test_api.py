import pytest

from core.api import examples as ex
from identities.models import Identity
from people.models import ChannelProfile, CustomAttributeDefinition, EventDefinition, Person, PersonEvent, Tag
from tests.api_support import epoch_ms
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import (
    CustomAttributeDefinitionFactory,
    EventDefinitionFactory,
    PersonFactory,
    TagFactory,
)


@pytest.fixture
def definitions(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Contract Expiry", data_type="DATE")
    CustomAttributeDefinitionFactory(realm=realm, name="Company", data_type="STRING")
    CustomAttributeDefinitionFactory(
        realm=realm, name="ShoppingCartList", data_type="LIST_OF_OBJECTS",
        object_schema=ex.CUSTOM_ATTRIBUTE_REQUEST["objectSchema"],
    )  # fmt: skip


@pytest.fixture
def seed_identity(realm, seed_ids):
    return IdentityFactory(
        id=ex.IDENTITY_ID, realm=realm, owner=ex.OWNER, country="US", currency="USD", type="person", alias="",
        data={"custom_field1": "custom_value1"}, created=epoch_ms(ex.CREATED_AT_MS),
    )  # fmt: skip


@pytest.fixture
def jane(realm, seed_identity):
    person = PersonFactory(
        id=255, realm=realm, external_id=None, first_name="Jane", last_name="Smith", middle_name="Janie",
        address="67 Farringdon Road", city="London", country="United Kingdom", gender="FEMALE",
        birth_date="1966-01-15", emails=["jane.smith@example.com"], tags=["VIP Customers"],
    )  # fmt: skip
    Identity.objects.filter(pk=ex.IDENTITY_ID).update(person=person)
    return person


def assert_contains(actual, expected, path="$"):
    """Every key of `expected` is in `actual` with an equal value (nested objects compared the same way)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, expected {len(expected)}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(got, want, f"{path}[{index}]")
    elif isinstance(expected, list) and path.endswith("tags"):
        assert sorted(actual) == sorted(expected), path
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def test_create_person_and_identity_as_the_seed(api, realm, definitions, seed_ids):
    CompanyFactory(id=3, realm=realm)
    response = api.post(
        "/v1/identities/person",
        ex.CREATE_PERSON_IDENTITY_REQUEST,
        format="json",
        HTTP_IDEMPOTENCY_KEY="27373fabc392933deffda",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    expected = {k: v for k, v in ex.CREATE_PERSON_IDENTITY_RESPONSE.items() if k not in ("id", "created_at")}
    assert_contains(body, {**expected, "owner": ex.OWNER})
    person = Person.objects.get(pk=body["person"]["id"])
    assert body["person"]["infobipId"] is None
    assert body["person"]["syncStatus"] == "local"
    assert Identity.objects.get(pk=body["id"]).person == person
    assert set(ChannelProfile.objects.filter(person=person).values_list("channel", flat=True)) == {
        "push", "facebook", "line", "instagram", "liveChat"
    }  # fmt: skip


def test_create_person_reports_every_problem_by_field(api, realm, definitions):
    other = PersonFactory(realm=realm, emails=["taken@example.com"])
    body = {
        "country": "ZZ",
        "person": {
            "firstName": "Jane#",
            "birthDate": "15.01.1966",
            "customAttributes": {"Shoe size": 42},
            "contactInformation": {"phone": [{"number": "12"}], "email": [{"address": "taken@example.com"}]},
        },
    }
    response = api.post("/v1/identities/person", body, format="json")
    assert response.status_code == 400
    fields = response.json()["data"]["fields"]
    assert fields["country"]
    assert "forbidden character '#'" in fields["person.firstName"][0]
    assert fields["person.birthDate"]
    assert fields["person.customAttributes.Shoe size"] == ["is not a defined custom attribute; define it first"]
    assert "is not a valid phone number" in fields["person.contactInformation.phone[0]"][0]
    assert not Identity.objects.exists()

    taken = {"person": {"contactInformation": {"email": [{"address": "TAKEN@example.com"}]}}}
    response = api.post("/v1/identities/person", taken, format="json")
    assert response.status_code == 400
    reason = response.json()["data"]["fields"]["person.contactInformation.email"][0]
    assert reason == f"taken@example.com already belongs to another person (id {other.pk})"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "person"), ({"person": "Jane"}, "person"), ({"person": {"tags": "VIP"}}, "person.tags"),
     ({"person": {"nickname": "J"}}, "person.nickname"), ({"person": {"contactInformation": {"fax": []}}},
     "person.contactInformation.fax"), ({"company": "999999", "person": {}}, "company")],
)  # fmt: skip
def test_create_person_shape_errors(api, body, field):
    response = api.post("/v1/identities/person", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["data"]["fields"]


def test_get_person_of_identity_as_the_seed(api, jane):
    response = api.get(f"/v1/identities/{ex.IDENTITY_ID}/person")
    assert response.status_code == 200
    assert_contains(response.json(), ex.PERSON_IDENTITY_RESPONSE)
    assert response.json() == api.get(f"/v1/identities/{ex.IDENTITY_ID}?populate=person").json()


def test_get_person_of_identity_without_one_is_404(api, seed_identity):
    response = api.get(f"/v1/identities/{ex.IDENTITY_ID}/person")
    assert response.status_code == 404
    assert response.json()["type"] == "person_not_assigned"


def test_create_person_for_existing_identity_as_the_seed(api, seed_identity):
    response = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person", ex.JANE, format="json")
    assert response.status_code == 201, response.json()
    assert_contains(response.json(), ex.PERSON_IDENTITY_RESPONSE)
    again = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person", ex.JANE, format="json")
    assert again.status_code == 409
    assert again.json()["type"] == "person_already_assigned"


def test_assign_and_unassign_as_the_seed(api, realm, seed_identity, seed_ids):
    PersonFactory(id=255, realm=realm)
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person/255/assign")
    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k not in ("alias", "company")} == ex.ASSIGNED_RESPONSE
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person/unassign")
    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k not in ("alias", "company")} == ex.UNASSIGNED_RESPONSE
    assert Person.objects.filter(pk=255).exists()


def test_assign_another_realms_person_is_404(api, seed_identity, other_realm):
    foreign = PersonFactory(realm=other_realm)
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person/{foreign.pk}/assign")
    assert response.status_code == 404
    assert Identity.objects.get(pk=ex.IDENTITY_ID).person_id is None


def test_update_person_as_the_seed_keeps_and_adds(api, jane):
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person", ex.UPDATE_PERSON_REQUEST, format="json")
    assert response.status_code == 200
    assert_contains(response.json(), ex.UPDATE_PERSON_RESPONSE)
    body = {"tags": ["New Customers"], "contactInformation": {"email": [{"address": "jane@work.example"}]}}
    person = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person", body, format="json").json()["person"]
    assert person["tags"] == ["New Customers", "VIP Customers"]
    assert [e["address"] for e in person["contactInformation"]["email"]] == [
        "jane.smith@example.com",
        "jane@work.example",
    ]
    assert person["city"] == "Manchester"


def test_update_person_validation_error(api, jane):
    response = api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person", {"lastName": "Smith (old)"}, format="json")
    assert response.status_code == 400
    assert "lastName" in response.json()["data"]["fields"]


def test_delete_person_as_the_seed(api, jane):
    response = api.delete(f"/v1/identities/{ex.IDENTITY_ID}/person", HTTP_IDEMPOTENCY_KEY="27373fabc392933deffda")
    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k not in ("alias", "company")} == ex.UNASSIGNED_RESPONSE
    assert not Person.objects.filter(pk=255).exists()
    assert api.delete(f"/v1/identities/{ex.IDENTITY_ID}/person").status_code == 404


@pytest.fixture
def add_to_cart(realm):
    return EventDefinitionFactory(realm=realm, definition_id="addToCart", fields=ex.ADD_TO_CART_FIELDS)


def test_send_event_as_the_seed(api, jane, add_to_cart):
    response = api.post(f"/v1/identitites/{ex.IDENTITY_ID}/person/event/addToCart", ex.EVENT_REQUEST, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert_contains(body, {k: v for k, v in ex.EVENT_RESPONSE.items() if k != "occurredTime"})
    assert PersonEvent.objects.get(person=jane).properties == ex.EVENT_REQUEST["data"]["properties"]


def test_repeated_event_id_is_recorded_once(api, jane, add_to_cart):
    body = {"data": {"properties": {"itemName": "Shoes"}, "eventId": "evt-1"}}
    first = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person/event/addToCart", body, format="json")
    second = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person/event/addToCart", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert PersonEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("definition", "body", "field"),
    [("nope", ex.EVENT_REQUEST, "event"),
     ("addToCart", {"data": {"properties": {"price": "cheap"}}}, "properties.price"),
     ("addToCart", {"data": {"properties": {"colour": "red"}}}, "properties.colour"),
     ("addToCart", {"data": {"properties": []}}, "properties"), ("addToCart", {"properties": {}}, "properties")],
)  # fmt: skip
def test_event_errors_are_400(api, jane, add_to_cart, definition, body, field):
    response = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person/event/{definition}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["data"]["fields"]


def test_event_of_identity_without_person_is_404(api, seed_identity, add_to_cart):
    response = api.post(f"/v1/identities/{ex.IDENTITY_ID}/person/event/addToCart", ex.EVENT_REQUEST, format="json")
    assert response.status_code == 404


# ------------------------------------------------------------------------------------------------- lists


def test_persons_list_envelope_and_pages(api, realm):
    persons = [PersonFactory(realm=realm) for _ in range(5)]
    merged = PersonFactory(realm=realm)
    Person.objects.filter(pk=merged.pk).update(merged_into=persons[0])
    body = api.get("/v1/identities/persons?limit=2&includeTotalCount=true").json()
    assert [p["id"] for p in body["persons"]] == [p.pk for p in reversed(persons)][:2]
    assert (body["limit"], body["page"], body["orderBy"], body["totalCount"]) == (2, 1, "id:desc", 5)
    assert api.get("/v1/identities/persons?limit=2&page=4").json()["persons"] == []
    ordered = api.get("/v1/identities/persons?orderBy=lastName:asc&limit=1000").json()["persons"]
    assert [p["lastName"] for p in ordered] == sorted(p.last_name for p in persons)


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "page=0", "orderBy=nickName:asc", "limit=-1"])
def test_persons_list_parameter_errors(api, query):
    assert api.get(f"/v1/identities/persons?{query}").status_code == 400


def test_persons_list_query_count_is_constant(api, realm, django_assert_max_num_queries):
    for index in range(40):
        person = PersonFactory(realm=realm, phones=[f"3859913{index:05d}"], emails=[f"p{index}@x.hr"], tags=["A", "B"])
        ChannelProfile.objects.create(realm=realm, person=person, channel="push", identifier=f"r{index}")
    with django_assert_max_num_queries(7) as small:
        assert len(api.get("/v1/identities/persons?limit=1&includeTotalCount=true").json()["persons"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("/v1/identities/persons?limit=40&includeTotalCount=true").json()["persons"]) == 40


# -------------------------------------------------------------------------------------------- reference data


def test_tags_crud(api, realm):
    TagFactory(realm=realm, name="Existing")
    created = api.post("/v1/identities/tags", ex.TAG_REQUEST, format="json")
    assert created.status_code == 201
    assert created.json()["name"] == "VIP Customers"
    assert api.post("/v1/identities/tags", {"name": "vip customers"}, format="json").status_code == 400
    listed = api.get("/v1/identities/tags").json()
    assert [t["name"] for t in listed["tags"]] == ["Existing", "VIP Customers"]
    assert api.get("/v1/identities/tags/VIP Customers").json()["name"] == "VIP Customers"
    assert api.delete("/v1/identities/tags/vip customers").json() == []
    assert not Tag.objects.filter(name="VIP Customers").exists()
    assert api.delete("/v1/identities/tags/VIP Customers").status_code == 404


def test_unknown_tags_on_a_person_are_created(api, jane):
    api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person", {"tags": ["Brand New"]}, format="json")
    assert api.get("/v1/identities/tags/Brand New").status_code == 200


def test_custom_attributes_crud(api, jane):
    created = api.post("/v1/identities/customAttributes", ex.CUSTOM_ATTRIBUTE_REQUEST, format="json")
    assert created.status_code == 201
    assert created.json()["objectSchema"] == ex.CUSTOM_ATTRIBUTE_REQUEST["objectSchema"]
    bad = api.post("/v1/identities/customAttributes", {"name": "a[1]", "dataType": "TEXT"}, format="json")
    assert set(bad.json()["data"]["fields"]) == {"name", "dataType"}
    api.post("/v1/identities/customAttributes", {"name": "Tier", "dataType": "STRING"}, format="json")
    names = [c["name"] for c in api.get("/v1/identities/customAttributes").json()["customAttributes"]]
    assert names == ["ShoppingCartList", "Tier"]
    api.patch(f"/v1/identities/{ex.IDENTITY_ID}/person", {"customAttributes": {"Tier": "Gold"}}, format="json")
    assert api.delete("/v1/identities/customAttributes/Tier").json() == []
    jane.refresh_from_db()
    assert "Tier" not in jane.custom_attributes
    assert not CustomAttributeDefinition.objects.filter(name="Tier").exists()


def test_event_definitions_crud(api):
    created = api.post("/v1/identities/events/definitions", ex.EVENT_DEFINITION_REQUEST, format="json")
    assert created.status_code == 201
    assert created.json()["fields"] == ex.ADD_TO_CART_FIELDS
    duplicate = api.post("/v1/identities/events/definitions", ex.EVENT_DEFINITION_REQUEST, format="json")
    assert duplicate.status_code == 400
    bad = api.post("/v1/identities/events/definitions", {"definitionId": "add-to-cart", "title": ""}, format="json")
    assert set(bad.json()["data"]["fields"]) == {"definitionId", "title"}
    assert [d["definitionId"] for d in api.get("/v1/identities/events/definitions").json()["definitions"]] == [
        "addToCart"
    ]
    assert api.get("/v1/identities/events/definitions/addToCart").status_code == 200
    assert EventDefinition.objects.count() == 1
