"""Every endpoint: 401 without a valid key, and another realm's objects are 404 (never their data)."""

import pytest

from identities.services import api_key_revoke
from tests.api_support import api_client
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, EventDefinitionFactory, PersonFactory, TagFactory


@pytest.fixture
def owned(realm):
    """One of everything in `realm` (the realm of `api`)."""
    person = PersonFactory(realm=realm, first_name="Secret")
    company = CompanyFactory(realm=realm, name="Secret Co")
    identity = IdentityFactory(realm=realm, person=person, company=company, alias="secret")
    TagFactory(realm=realm, name="SecretTag")
    CustomAttributeDefinitionFactory(realm=realm, name="SecretAttr")
    EventDefinitionFactory(realm=realm, definition_id="secretEvent", fields=[])
    from infobip.models import SyncRun

    run = SyncRun.objects.create(realm=realm, owner="0" * 24)
    return {"identity": identity.id, "person": person.pk, "company": company.pk, "run": run.pk}


# (method, path, body) with {identity} {person} {company} {run} filled from `owned`.
OBJECT_ENDPOINTS = [
    ("get", "/v1/identities/{identity}", None),
    ("patch", "/v1/identities/{identity}", {"alias": "x"}),
    ("delete", "/v1/identities/{identity}", None),
    ("get", "/v1/identities/{identity}?populate=person,company", None),
    ("get", "/v1/identities/{identity}/person", None),
    ("post", "/v1/identities/{identity}/person", {"firstName": "X"}),
    ("patch", "/v1/identities/{identity}/person", {"city": "X"}),
    ("delete", "/v1/identities/{identity}/person", None),
    ("patch", "/v1/identities/{identity}/person/{person}/assign", None),
    ("patch", "/v1/identities/{identity}/person/unassign", None),
    ("post", "/v1/identities/{identity}/person/event/secretEvent", {"data": {"properties": {}}}),
    ("get", "/v1/identities/{identity}/company", None),
    ("get", "/v1/identities/companies/{company}", None),
    ("patch", "/v1/identities/companies/{company}", {"notes": "x"}),
    ("delete", "/v1/identities/companies/{company}", None),
    ("delete", "/v1/identitites/companies/{company}", None),
    ("get", "/v1/identities/tags/SecretTag", None),
    ("delete", "/v1/identities/tags/SecretTag", None),
    ("get", "/v1/identities/customAttributes/SecretAttr", None),
    ("delete", "/v1/identities/customAttributes/SecretAttr", None),
    ("get", "/v1/identities/events/definitions/secretEvent", None),
    ("get", "/v1/identities/persons/sync/{run}", None),
]
LIST_ENDPOINTS = [
    ("/v1/identities", "identities"),
    ("/v1/identities/persons", "persons"),
    ("/v1/identities/companies", "companies"),
    ("/v1/identities/tags", "tags"),
    ("/v1/identities/customAttributes", "customAttributes"),
    ("/v1/identities/events/definitions", "definitions"),
]
CREATE_ENDPOINTS = [
    ("post", "/v1/identities", {}),
    ("post", "/v1/identities/person", {"person": {}}),
    ("post", "/v1/identities/company", {"name": "N"}),
    ("post", "/v1/identities/tags", {"name": "N"}),
    ("post", "/v1/identities/customAttributes", {"name": "N", "dataType": "STRING"}),
    ("post", "/v1/identities/events/definitions", {"definitionId": "n", "title": "N"}),
    ("post", "/v1/identities/persons/sync", {}),
]
ALL = [*OBJECT_ENDPOINTS, *[("get", path, None) for path, _ in LIST_ENDPOINTS], *CREATE_ENDPOINTS]


def call(client, method, path, body, owned):
    return (
        getattr(client, method)(path.format(**owned), body, format="json")
        if body is not None
        else getattr(client, method)(path.format(**owned))
    )


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_every_endpoint_needs_a_valid_key(method, path, body, owned, api_key, anon):
    for client in (anon, api_client("cdp_000000000000_wrong"), api_client("not-even-a-key")):
        response = call(client, method, path, body, owned)
        assert response.status_code == 401, (path, response.json())
        assert response.json()["name"] == "Unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    api_key_revoke(key=api_key)
    assert call(api_client(api_key.plain), method, path, body, owned).status_code == 401


def test_bearer_authorization_works_too(api_key, owned):
    client = api_client(HTTP_AUTHORIZATION=f"Bearer {api_key.plain}")
    assert client.get(f"/v1/identities/{owned['identity']}").status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ENDPOINTS)
def test_another_realms_objects_are_not_found(method, path, body, owned, other_api):
    response = call(other_api, method, path, body, owned)
    assert response.status_code == 404, (path, response.json())
    assert response.json()["name"] == "NotFound"
    assert response.json()["data"] == {}
    assert "Secret Co" not in response.content.decode()


@pytest.mark.parametrize(("path", "key"), LIST_ENDPOINTS)
def test_lists_show_only_the_keys_realm(path, key, owned, api, other_api):
    assert len(api.get(path).json()[key]) == 1
    assert other_api.get(path).json()[key] == []


@pytest.mark.parametrize(("method", "path", "body"), CREATE_ENDPOINTS)
def test_creates_land_in_the_keys_realm(method, path, body, other_api, other_realm, realm):
    response = call(other_api, method, path, body, {})
    assert response.status_code in (200, 201), response.json()
    from identities.models import Identity
    from infobip.models import SyncRun

    assert not Identity.objects.filter(realm=realm).exists()
    assert not SyncRun.objects.filter(realm=realm).exists()
