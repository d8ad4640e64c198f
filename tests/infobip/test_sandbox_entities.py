"""The sandbox over real HTTP: companies, tags, events, channel profiles, control endpoints."""

import re

import pytest
import requests

from infobip.sandbox import SandboxServer
from tests.infobip.sandbox_support import TIMESTAMP, Api, P, by_ext, make_tag, service_exception


@pytest.fixture
def api(infobip_sandbox):
    return Api(infobip_sandbox)


# --- companies, tags --------------------------------------------------------------------------------------


def test_companies(api, infobip_sandbox):
    make_tag(api, "Vip")
    company = api.post(
        "/people/2/companies", json={"name": "Infobip", "domains": ["infobip.com"], "tags": ["Vip"]}
    ).json()
    assert company["origin"] == "API"
    assert TIMESTAMP.match(company["createdAt"])
    assert api.get("/people/2/companies", params={"name": "INFOBIP"}).json() == {"companies": [company]}
    assert (
        api.get("/people/2/companies", params={"domain": "infobip.com"}).json()["companies"][0]["id"] == company["id"]
    )
    assert api.get("/people/2/companies", params={"name": "nope"}).status_code == 404
    duplicate = api.post("/people/2/companies", json={"name": "infobip"})
    assert duplicate.status_code == 400
    assert "already exists" in service_exception(duplicate)["text"]
    assert api.post("/people/2/companies", json={"notes": "no name"}).status_code == 400
    make_tag(api, "New")
    appended = api.patch(
        "/people/2/companies", params={"id": company["id"]}, json={"tags": ["New"], "domains": ["ib.com"]}
    ).json()
    assert appended["tags"] == ["Vip", "New"]
    assert appended["domains"] == ["infobip.com", "ib.com"]
    replaced = api.patch(
        "/people/2/companies",
        params={"name": "Infobip", "replaceTags": "true", "replaceDomains": "true"},
        json={"tags": ["New"], "domains": ["ib.com"], "segment": "Enterprise"},
    ).json()
    assert replaced["tags"] == ["New"]
    assert replaced["domains"] == ["ib.com"]
    assert replaced["segment"] == "Enterprise"
    assert api.patch("/people/2/companies", params={"id": 1, "name": "x"}, json={}).status_code == 400
    listed = api.get("/people/2/companies", params={"includeTotalCount": "true"}).json()
    assert listed["totalCount"] == 1
    assert listed["companies"][0]["id"] == company["id"]
    filtered = api.get("/people/2/companies", params={"filter": '{"#contains": {"domains": "ib.com"}}'}).json()
    assert len(filtered["companies"]) == 1

    api.post(P, json={"externalId": "p1"})
    members = {"people": [{"query": by_ext("p1")}, {"query": by_ext("ghost")}]}
    assert api.patch("/people/2/companies/persons", params={"name": "Infobip"}, json=members).status_code == 200
    person_id = api.get(P, params=by_ext("p1")).json()["id"]
    assert infobip_sandbox.store.company_members[company["id"]] == {person_id}
    assert api.delete("/people/2/companies/persons", params={"name": "Infobip"}, json=members).status_code == 200
    assert infobip_sandbox.store.company_members[company["id"]] == set()
    assert api.delete("/people/2/companies", params={"externalId": "none"}).status_code == 404
    assert api.delete("/people/2/companies", params={"id": company["id"]}).status_code == 200
    assert api.get("/people/2/companies", params={"id": company["id"]}).status_code == 404


def test_company_batches(api):
    created = api.post("/people/2/companies/batch", json={"companies": [{"name": "A"}, {"name": "a"}]})
    assert created.status_code == 207
    results = created.json()["results"]
    assert results[0]["status"] == 200
    assert results[0]["index"] == 0
    assert isinstance(results[0]["id"], int)
    assert results[1] == {
        "errors": [{"message": "Key (lower(name::text))=(a) already exists."}],
        "status": 409,
        "index": 1,
    }
    assert api.post("/people/2/companies/batch", json={"companies": [{"name": "B"}]}).status_code == 200
    updated = api.patch(
        "/people/2/companies/batch",
        json={
            "companies": [
                {"query": {"name": "A"}, "update": {"segment": "S"}},
                {"query": {"name": "Fancy"}, "update": {}},
            ]
        },
    )
    assert updated.status_code == 207
    assert updated.json()["results"][0]["errors"] == [{"message": 'Company with name "Fancy" does not exist'}]
    deleted = api.delete("/people/2/companies/batch", json={"companies": [{"query": {"name": "A"}}]})
    assert deleted.status_code == 200
    assert deleted.json() == {"results": []}


def test_tags(api, infobip_sandbox):
    tag = api.post("/people/2/tags", json={"name": "VIP Customers"}).json()
    assert set(tag) == {"id", "name", "createdAt", "modifiedAt"}
    duplicate = api.post("/people/2/tags", json={"name": "VIP Customers"})
    assert duplicate.status_code == 400
    assert "already exists" in service_exception(duplicate)["text"]
    assert api.post("/people/2/tags", json={"name": ""}).status_code == 400
    assert api.get("/people/2/tags/VIP%20Customers").json() == tag
    missing = api.get("/people/2/tags/Nope")
    assert missing.status_code == 404
    assert service_exception(missing)["messageId"] == "NOT_FOUND"
    listed = api.get("/people/2/tags", params={"includeTotalCount": "true"}).json()
    assert listed == {"tags": [tag], "limit": 20, "page": 1, "totalCount": 1}

    api.post(P + "/batch", json={"people": [{"externalId": "a"}, {"externalId": "b"}]})
    people = {"people": [{"query": by_ext("a")}, {"query": by_ext("b")}]}
    assert api.patch("/people/2/tags/VIP%20Customers/persons", json=people).status_code == 200
    assert api.get(P, params=by_ext("a")).json()["tags"] == ["VIP Customers"]
    assert (
        api.delete("/people/2/tags/VIP%20Customers/persons", json={"people": people["people"][:1]}).status_code == 200
    )
    assert api.get(P, params=by_ext("a")).json()["tags"] == []
    assert api.patch("/people/2/tags/Nope/persons", json=people).status_code == 404
    assert api.delete("/people/2/tags/VIP%20Customers").status_code == 200
    assert api.get(P, params=by_ext("b")).json()["tags"] == []
    assert api.delete("/people/2/tags/VIP%20Customers").status_code == 404


def test_tags_list_as_bare_array_when_configured():
    with SandboxServer(rate_limits="off", tags_list_style="array") as server:
        session = requests.Session()
        session.headers["Authorization"] = "App k"
        session.post(server.url + "/people/2/tags", json={"name": "A"}, timeout=10)
        assert [t["name"] for t in session.get(server.url + "/people/2/tags", timeout=10).json()] == ["A"]


# --- events -----------------------------------------------------------------------------------------------

DEFINITION = {
    "definitionId": "addToCart",
    "title": "Item added to cart",
    "fields": [
        {"name": "transactionId", "type": "String"},
        {"name": "totalCost", "type": "Decimal"},
        {
            "name": "itemsInCart",
            "type": "List",
            "schema": {"type": "Object", "fields": [{"name": "itemId", "type": "Numeric"}]},
        },
    ],
}


def test_event_definitions(api):
    created = api.post("/peopleevents/2/definitions", json=DEFINITION)
    assert created.status_code == 201
    assert created.json()["isInternalDefinition"] is False
    conflict = api.post("/peopleevents/2/definitions", json=DEFINITION)
    assert conflict.status_code == 409
    assert conflict.json()["status"] == 409
    invalid = api.post("/peopleevents/2/definitions", json={"definitionId": "bad-id!", "title": ""})
    assert invalid.status_code == 400
    assert invalid.json()["title"] == "One or more validation errors occurred."
    assert {d["property"] for d in invalid.json()["errors"][0]["details"]} == {"definitionId", "title"}
    assert api.get("/peopleevents/2/definitions/addToCart").json()["title"] == "Item added to cart"
    assert api.get("/peopleevents/2/definitions/nope").status_code == 404
    updated = api.post(
        "/peopleevents/2/definitions/addToCart",
        json={"title": "Added", "fields": [{"name": "coupon", "type": "String"}]},
    ).json()
    assert updated["title"] == "Added"
    assert [f["name"] for f in updated["fields"]][-1] == "coupon"
    changed_type = api.post(
        "/peopleevents/2/definitions/addToCart",
        json={"title": "x", "fields": [{"name": "totalCost", "type": "String"}]},
    )
    assert changed_type.status_code == 400
    listed = api.get("/peopleevents/2/definitions", params={"category": "external"}).json()
    assert [d["definitionId"] for d in listed] == ["addToCart"]


def test_single_event_is_201_and_deduplicated_by_event_id(api, infobip_sandbox):
    api.post("/peopleevents/2/definitions", json=DEFINITION)
    person = api.post(P, json={"externalId": "p1"}).json()
    path = f"/peopleevents/2/persons/{person['id']}/definitions/addToCart/events"
    body = {"eventId": "evt-1", "properties": {"transactionId": "t1", "itemsInCart": [{"itemId": 3}]}}
    first = api.post(path, params={"identifierType": "ID"}, json=body)
    assert first.status_code == 201
    event = first.json()
    assert event["eventId"] == "evt-1"
    assert event["metadata"] == {"source": "API"}
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$", event["occurredTime"])
    assert api.post(path, params={"identifierType": "ID"}, json=body).json() == event
    assert len(infobip_sandbox.store.events[person["id"]]) == 1
    assert infobip_sandbox.stats()["effects"]["events_deduplicated"] == 1
    bad = api.post(path, params={"identifierType": "ID"}, json={"properties": {"unknown": 1}})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == 400501
    assert api.post(path, params={"identifierType": "ID"}, json={"eventId": "no spaces"}).status_code == 400
    unknown = "/peopleevents/2/persons/ghost@x.com/definitions/addToCart/events"
    assert api.post(unknown, params={"identifierType": "EMAIL"}, json={}).status_code == 404
    created = api.post(unknown, params={"identifierType": "EMAIL", "createPerson": "true"}, json={})
    assert created.status_code == 201
    assert api.get(P, params={"type": "EMAIL", "identifier": "ghost@x.com"}).status_code == 200
    internal = f"/peopleevents/2/persons/{person['id']}/definitions/emailOpened/events"
    assert api.post(internal, params={"identifierType": "ID"}, json={}).json()["errors"][0]["code"] == 400506
    no_def = f"/peopleevents/2/persons/{person['id']}/definitions/nope/events"
    assert service_exception(api.post(no_def, params={"identifierType": "ID"}, json={}))["messageId"] == "NOT_FOUND"


def test_batch_events_are_all_or_nothing(api, infobip_sandbox):
    from datetime import UTC, datetime, timedelta

    api.post("/peopleevents/2/definitions", json=DEFINITION)
    person = api.post(P, json={"externalId": "p1"}).json()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    old = (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    good = {"definitionId": "addToCart", "occurredTime": now, "identifier": {"id": str(person["id"]), "type": "ID"}}
    accepted = api.post("/people/3/events", json=[good, {**good, "identifier": {"id": "new@x.com", "type": "EMAIL"}}])
    assert accepted.status_code == 202
    assert accepted.content == b""
    assert infobip_sandbox.store.find_person("EMAIL", "new@x.com") is not None  # auto-created
    before = infobip_sandbox.stats()["state"]["events"]
    rejected = api.post(
        "/people/3/events",
        json=[good, {**good, "occurredTime": old}, {**good, "identifier": {"id": "999999", "type": "ID"}}],
    )
    assert rejected.status_code == 400
    body = rejected.json()
    assert body["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.1"
    assert body["status"] == 400
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, 400504), (2, 400505)]
    assert infobip_sandbox.stats()["state"]["events"] == before
    assert api.post("/people/3/events", json=[]).json()["errors"][0]["code"] == 400502
    assert api.post("/people/3/events", json={"a": 1}).json()["errors"][0]["code"] == 400500
    assert api.post("/people/3/events", json=[good] * 5001).json()["errors"][0]["code"] == 400503


# --- Orangepill's person with channel profiles --------------------------------------------------------------

ORANGEPILL_PERSON = {
    "firstName": "Jane",
    "lastName": "Smith",
    "address": "67 Farringdon Road",
    "city": "London",
    "country": "United Kingdom",
    "gender": "FEMALE",
    "birthDate": "1966-01-15",
    "middleName": "Janie",
    "profilePicture": "",
    "tags": ["VIP Customers", "New Customers"],
    "customAttributes": {
        "Contract Expiry": "2018-06-01",
        "Company": "Acme",
        "ShoppingCartList": [
            {
                "productName": "Sneakers",
                "productPrice": 25.33,
                "productCategory": "Sport Sneakers",
                "productImage": "/image1.png",
            },
            {
                "productName": "T-Shirt",
                "productPrice": 9.99,
                "productCategory": "Casual",
                "productImage": "/image2.png",
            },
        ],
    },
    "contactInformation": {
        "phone": [{"number": "41793026727"}],
        "email": [{"address": ""}],
        "push": [
            {
                "applicationId": "FDCC8516470A3AE97FB8AC218D5D0D3D",
                "registrationId": "c5db0c47-465c-4e1c-abf8-7cedc275dd19",
                "additionalData": {"birthdate": "1988-07-31", "email": "", "firstName": "Jane", "gender": "F"},
                "systemData": {
                    "cloudType": "GCM",
                    "registrationEnabled": True,
                    "sdkName": "MobileMessaging SDK",
                    "os": "Android",
                },
            }
        ],
        "facebook": [
            {"applicationId": "370329180020364", "userId": "2094832040560427", "systemData": {"gender": "female"}}
        ],
        "line": [
            {
                "applicationId": "1644264921",
                "userId": "U045147f1ad961bfe996b72bbf417f3c9",
                "systemData": {"displayName": "Jane Smith"},
            }
        ],
        "instagram": [
            {
                "applicationId": "17841446795352028",
                "userId": "12461436693342628",
                "systemData": {"displayName": "jane.smith"},
            }
        ],
        "twitter": [
            {
                "applicationId": "1148203323283877",
                "userId": "370329180020364",
                "systemData": {"displayName": "Jane Smith"},
            }
        ],
    },
}


def test_sandbox_holds_and_returns_orangepill_persons_with_channel_profiles(api, infobip_sandbox):
    [person_id] = infobip_sandbox.load_persons([ORANGEPILL_PERSON])
    push = ORANGEPILL_PERSON["contactInformation"]["push"][0]
    query = {"type": "PUSH", "identifier": push["registrationId"], "sender": push["applicationId"]}
    person = api.get(P, params=query).json()
    assert person["id"] == person_id
    contacts = person["contactInformation"]
    for channel in ("push", "facebook", "line", "instagram", "twitter"):
        assert contacts[channel] == ORANGEPILL_PERSON["contactInformation"][channel]
    assert "email" not in contacts  # the empty address is not stored
    assert person["customAttributes"] == ORANGEPILL_PERSON["customAttributes"]
    assert person["tags"] == ["VIP Customers", "New Customers"]
    # read-only channel contacts are ignored on API writes, and survive PUT
    api.put(
        P, params={"type": "ID", "identifier": person_id}, json={"firstName": "J", "contactInformation": {"push": []}}
    )
    assert api.get(P, params={"type": "ID", "identifier": person_id}).json()["contactInformation"]["push"]
    # the same JSON through the API: accepted, channel lists ignored
    api.post("/people/2/tags", json={"name": "x"})
    contacts = {**ORANGEPILL_PERSON["contactInformation"], "phone": [{"number": "41793026728"}]}
    via_api = api.post(P, json={**ORANGEPILL_PERSON, "contactInformation": contacts})
    assert via_api.status_code == 200
    assert "push" not in via_api.json()["contactInformation"]


def test_control_endpoints_seed_stats_reset(api, infobip_sandbox):
    seeded = requests.post(infobip_sandbox.url + "/_sandbox/seed", json={"count": 250}, timeout=10).json()
    assert seeded["seeded"] == 250
    api.get(P)
    stats = requests.get(infobip_sandbox.url + "/_sandbox/stats", timeout=10).json()
    assert stats["calls"]["GET /people/2/persons"] == 1
    assert stats["state"]["persons"] == 250
    loaded = requests.post(infobip_sandbox.url + "/_sandbox/seed", json={"persons": [{"externalId": "z"}]}, timeout=10)
    assert loaded.json()["seeded"] == 1
    assert requests.post(infobip_sandbox.url + "/_sandbox/reset", timeout=10).json() == {"ok": True}
    assert infobip_sandbox.stats()["state"]["persons"] == 0
    assert infobip_sandbox.stats()["calls"] == {}
