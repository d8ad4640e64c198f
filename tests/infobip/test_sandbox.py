"""The sandbox over real HTTP: auth, persons, validation, paging, batches, v3 upsert and merge."""

import json

import pytest
import requests

from infobip.sandbox import SandboxServer, StoreOptions
from tests.infobip.sandbox_support import TIMESTAMP, Api, P, by_ext, make_tag, service_exception


@pytest.fixture
def api(infobip_sandbox):
    return Api(infobip_sandbox)


# --- auth -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "App", "Basic c2VjcmV0", "App wrong-key", "Bearer sandbox-key"])
def test_requests_without_a_valid_app_key_get_401_classic(infobip_sandbox, header):
    headers = {} if header is None else {"Authorization": header}
    response = requests.get(infobip_sandbox.url + P, headers=headers, timeout=10)
    assert response.status_code == 401
    assert service_exception(response) == {"messageId": "UNAUTHORIZED", "text": "Unauthorized"}


def test_any_non_empty_key_is_accepted_when_no_keys_are_configured():
    with SandboxServer(rate_limits="off") as server:
        response = requests.get(server.url + P, headers={"Authorization": "App whatever"}, timeout=10)
        assert response.status_code == 200


def test_unknown_path_is_404_and_wrong_method_405(api):
    assert api.get("/people/2/nothing").status_code == 404
    assert service_exception(api.post("/people/2/tags/x"))["messageId"] == "METHOD_NOT_ALLOWED"


# --- persons --------------------------------------------------------------------------------------------


def test_create_returns_200_with_server_fields(api):
    response = api.post(P, json={"firstName": "Jane", "externalId": "e1"})
    assert response.status_code == 200
    person = response.json()
    assert isinstance(person["id"], int)
    assert TIMESTAMP.match(person["createdAt"])
    assert TIMESTAMP.match(person["modifiedAt"])
    assert person["origin"] == person["modifiedFrom"] == "API"
    assert person["type"] == "CUSTOMER"
    assert person["tags"] == []
    assert person["customAttributes"] == {}
    assert person["contactInformation"] == {}


def test_get_single_by_each_identifier_type_and_404_when_unknown(api):
    created = api.post(
        P,
        json={
            "externalId": "Ext-1",
            "contactInformation": {"email": [{"address": "Jane@Acme.com"}], "phone": [{"number": "41793026727"}]},
        },
    ).json()
    for params in (
        {"type": "ID", "identifier": created["id"]},
        {"type": "EXTERNAL_ID", "identifier": "Ext-1"},
        {"type": "EMAIL", "identifier": "jane@acme.COM"},
        {"type": "PHONE", "identifier": "41793026727"},
    ):
        assert api.get(P, params=params).json()["id"] == created["id"]
    missing = api.get(P, params={"type": "EXTERNAL_ID", "identifier": "ext-1"})  # externalId is case-sensitive
    assert missing.status_code == 404
    assert service_exception(missing)["messageId"] == "NOT_FOUND"
    assert api.get(P, params={"type": "FACEBOOK", "identifier": "x"}).status_code == 400  # sender required
    assert api.get(P, params={"type": "NOPE", "identifier": "x"}).status_code == 400


def test_put_replaces_everything_and_patch_merges(api, infobip_sandbox):
    make_tag(api, "VIP")
    make_tag(api, "New")
    api.post("/people/2/customAttributes", json={"name": "Company", "dataType": "STRING"})
    api.post("/people/2/customAttributes", json={"name": "Score", "dataType": "INTEGER"})
    api.post(
        P,
        json={
            "externalId": "e1",
            "firstName": "Jane",
            "lastName": "Smith",
            "city": "London",
            "tags": ["VIP"],
            "customAttributes": {"Company": "Acme", "Score": 1},
            "contactInformation": {"email": [{"address": "a@x.com"}], "phone": [{"number": "385911111111"}]},
        },
    )
    patched = api.patch(
        P,
        params=by_ext("e1"),
        json={
            "lastName": "Doe",
            "tags": ["New", "VIP"],
            "customAttributes": {"Score": 2},
            "contactInformation": {"email": [{"address": "b@x.com"}, {"address": "A@x.com"}]},
        },
    ).json()
    assert patched["firstName"] == "Jane"
    assert patched["lastName"] == "Doe"
    assert patched["city"] == "London"
    assert patched["tags"] == ["VIP", "New"]
    assert patched["customAttributes"] == {"Company": "Acme", "Score": 2}
    assert [e["address"] for e in patched["contactInformation"]["email"]] == ["a@x.com", "b@x.com"]
    assert patched["contactInformation"]["phone"] == [{"number": "385911111111"}]

    replaced = api.put(
        P, params=by_ext("e1"), json={"externalId": "e1", "firstName": "J", "contactInformation": {"email": []}}
    ).json()
    assert replaced["firstName"] == "J"
    for cleared in ("lastName", "city"):
        assert cleared not in replaced
    assert replaced["tags"] == []
    assert replaced["customAttributes"] == {}
    assert replaced["contactInformation"] == {}
    assert replaced["createdAt"] == patched["createdAt"]
    assert replaced["id"] == patched["id"]
    # the old identifiers are free again
    assert api.get(P, params={"type": "EMAIL", "identifier": "a@x.com"}).status_code == 404
    assert infobip_sandbox.store.tag_members["VIP"] == set()


def test_delete_person_returns_200_without_body(api):
    api.post(P, json={"externalId": "e1"})
    response = api.delete(P, params=by_ext("e1"))
    assert response.status_code == 200
    assert response.content == b""
    assert api.get(P, params=by_ext("e1")).status_code == 404
    assert api.delete(P, params=by_ext("e1")).status_code == 404


@pytest.mark.parametrize(
    ("existing", "new", "text"),
    [
        (
            {"contactInformation": {"email": [{"address": "Jane@x.com"}]}},
            {"contactInformation": {"email": [{"address": "jane@X.COM"}]}},
            "Destination(email) jane@X.COM already exists.",
        ),
        (
            {"contactInformation": {"phone": [{"number": "41793026727"}]}},
            {"contactInformation": {"phone": [{"number": "41793026727"}]}},
            "Destination(phone) 41793026727 already exists.",
        ),
        ({"externalId": "abc"}, {"externalId": "abc"}, "Person with externalId abc already exists."),
    ],
)
def test_duplicate_identifier_on_single_create_is_400_already_exists(api, existing, new, text):
    assert api.post(P, json=existing).status_code == 200
    response = api.post(P, json=new)
    assert response.status_code == 400
    assert service_exception(response)["messageId"] == "BAD_REQUEST"
    assert service_exception(response)["text"] == text


def test_external_id_is_case_sensitive_for_uniqueness(api):
    assert api.post(P, json={"externalId": "abc"}).status_code == 200
    assert api.post(P, json={"externalId": "ABC"}).status_code == 200


def test_duplicate_on_update_is_refused_too(api):
    api.post(P, json={"externalId": "a", "contactInformation": {"email": [{"address": "a@x.com"}]}})
    api.post(P, json={"externalId": "b"})
    response = api.patch(P, params=by_ext("b"), json={"contactInformation": {"email": [{"address": "A@x.com"}]}})
    assert response.status_code == 400
    assert "already exists" in service_exception(response)["text"]


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("firstName", 256),
        ("lastName", 256),
        ("middleName", 51),
        ("externalId", 257),
        ("city", 51),
        ("country", 51),
        ("address", 257),
        ("profilePicture", 2084),
    ],
)
def test_field_length_limits(api, field, length):
    assert api.post(P, json={field: "a" * (length - 1)}).status_code == 200
    response = api.post(P, json={field: "b" * length})
    assert response.status_code == 400
    assert service_exception(response)["validationErrors"][field] == [f"size must be between 0 and {length - 1}"]


@pytest.mark.parametrize("char", list('&<>"/\\\n\r:(){}=;#'))
@pytest.mark.parametrize("field", ["firstName", "middleName", "lastName"])
def test_forbidden_characters_in_names(api, char, field):
    response = api.post(P, json={field: f"Ja{char}ne"})
    assert response.status_code == 400
    assert "forbidden characters" in service_exception(response)["validationErrors"][field][0]


def test_other_field_validation(api):
    cases = [
        ({"gender": "OTHER"}, "gender"),
        ({"type": "AGENT"}, "type"),
        ({"birthDate": "1966-13-01"}, "birthDate"),
        ({"preferredLanguage": "english"}, "preferredLanguage"),
        ({"tags": "VIP"}, "tags"),
        ({"contactInformation": {"email": [{"address": "not-an-email"}]}}, "contactInformation.email[0].address"),
        ({"contactInformation": {"phone": [{"number": "12"}]}}, "contactInformation.phone[0].number"),
        ({"firstName": 5}, "firstName"),
    ]
    for body, field in cases:
        response = api.post(P, json=body)
        assert response.status_code == 400, body
        assert field in service_exception(response)["validationErrors"], body
    assert service_exception(api.post(P, data="{nope", headers={"Content-Type": "application/json"}))[
        "text"
    ].startswith("Malformed JSON")


def test_at_most_100_emails_and_phones(api):
    emails = [{"address": f"u{i}@x.com"} for i in range(100)]
    assert api.post(P, json={"contactInformation": {"email": emails}}).status_code == 200
    more = [{"address": f"v{i}@x.com"} for i in range(101)]
    assert api.post(P, json={"contactInformation": {"email": more}}).status_code == 400
    person = api.get(P, params={"type": "EMAIL", "identifier": "u0@x.com"}).json()
    appended = api.patch(
        P, params={"type": "ID", "identifier": person["id"]}, json={"contactInformation": {"email": more[:1]}}
    )
    assert appended.status_code == 400


def test_custom_attribute_values_must_be_defined_and_typed(api):
    for name, data_type in [
        ("Company", "STRING"),
        ("Score", "INTEGER"),
        ("Price", "DECIMAL"),
        ("Vip", "BOOLEAN"),
        ("Since", "DATE"),
        ("Seen", "DATE_TIME"),
    ]:
        assert api.post("/people/2/customAttributes", json={"name": name, "dataType": data_type}).status_code == 200
    api.post(
        "/people/2/customAttributes",
        json={"name": "Cart", "dataType": "LIST_OF_OBJECTS", "objectSchema": {"sku": "STRING", "price": "DECIMAL"}},
    )
    good = {
        "Company": "Acme",
        "Score": 3,
        "Price": 9.5,
        "Vip": True,
        "Since": "2020-01-31",
        "Seen": "2024-05-17T15:47:50",
        "Cart": [{"sku": "A1", "price": 2}],
    }
    assert api.post(P, json={"customAttributes": good}).json()["customAttributes"] == good
    for bad in (
        {"Unknown": "x"},
        {"Score": "3"},
        {"Score": 1.5},
        {"Vip": "yes"},
        {"Since": "31.01.2020"},
        {"Company": "x" * 4097},
        {"Cart": [{"sku": 1}]},
        {"Cart": [{"color": "red"}]},
    ):
        response = api.post(P, json={"customAttributes": bad})
        assert response.status_code == 400, bad
        assert f"customAttributes.{next(iter(bad))}" in service_exception(response)["validationErrors"]


def test_custom_attribute_definitions(api):
    for name in ("a{b", "a}b", "a[b", "a]b"):
        response = api.post("/people/2/customAttributes", json={"name": name, "dataType": "STRING"})
        assert response.status_code == 400, name
    assert api.post("/people/2/customAttributes", json={"name": "X", "dataType": "TEXT"}).status_code == 400
    assert api.post("/people/2/customAttributes", json={"name": "L", "dataType": "LIST_OF_OBJECTS"}).status_code == 400
    assert api.post("/people/2/customAttributes", json={"name": "Company", "dataType": "STRING"}).status_code == 200
    duplicate = api.post("/people/2/customAttributes", json={"name": "Company", "dataType": "STRING"})
    assert duplicate.status_code == 400
    assert "already exists" in service_exception(duplicate)["text"]
    listed = api.get("/people/2/customAttributes", params={"includeTotalCount": "true", "orderBy": "name:asc"}).json()
    assert [a["name"] for a in listed["customAttributes"]] == ["Company"]
    assert listed["totalCount"] == 1
    assert api.get("/people/2/customAttributes/Company").json()["dataType"] == "STRING"
    api.post(P, json={"externalId": "e", "customAttributes": {"Company": "Acme"}})
    assert api.delete("/people/2/customAttributes/Company").status_code == 200
    assert api.get("/people/2/customAttributes/Company").status_code == 404
    assert api.get(P, params=by_ext("e")).json()["customAttributes"] == {}


def test_unknown_tags_are_rejected_unless_auto_created(api):
    response = api.post(P, json={"tags": ["Nope"]})
    assert response.status_code == 400
    assert service_exception(response)["validationErrors"]["tags[0]"] == ["Tag Nope does not exist"]
    with SandboxServer(rate_limits="off", store_options=StoreOptions(auto_create_tags=True)) as server:
        session = requests.Session()
        session.headers["Authorization"] = "App k"
        assert session.post(server.url + P, json={"tags": ["Nope"]}, timeout=10).status_code == 200
        assert session.get(server.url + "/people/2/tags/Nope", timeout=10).status_code == 200


def test_contact_information_endpoints(api):
    api.post(P, json={"externalId": "e", "contactInformation": {"email": [{"address": "a@x.com"}]}})
    path = P + "/contactInformation"
    added = api.patch(path, params=by_ext("e"), json={"contactInformation": {"phone": [{"number": "38591000001"}]}})
    assert added.json()["contactInformation"] == {
        "phone": [{"number": "38591000001"}],
        "email": [{"address": "a@x.com"}],
    }
    replaced = api.put(path, params=by_ext("e"), json={"contactInformation": {"email": [{"address": "b@x.com"}]}})
    assert replaced.json()["contactInformation"] == {"email": [{"address": "b@x.com"}]}
    removed = api.delete(path, params=by_ext("e"), json={"contactInformation": {"email": [{"address": "B@x.com"}]}})
    assert removed.json()["contactInformation"] == {}
    assert api.put(path, params=by_ext("e"), json={}).status_code == 400
    assert api.put(path, params=by_ext("nobody"), json={"contactInformation": {}}).status_code == 404


# --- listing --------------------------------------------------------------------------------------------


def test_list_envelope_and_paging_edges(api, infobip_sandbox):
    infobip_sandbox.seed_persons(45)
    first = api.get(P).json()
    assert set(first) == {"persons", "limit", "page"}
    assert first["limit"] == 20
    assert first["page"] == 1
    assert len(first["persons"]) == 20
    page3 = api.get(P, params={"limit": 20, "page": 3, "includeTotalCount": "true"}).json()
    assert len(page3["persons"]) == 5
    assert page3["totalCount"] == 45
    assert api.get(P, params={"limit": 20, "page": 4}).json()["persons"] == []
    assert api.get(P, params={"limit": 1000}).json()["limit"] == 1000
    for params in (
        {"limit": 0},
        {"limit": 1001},
        {"page": 0},
        {"limit": "ten"},
        {"orderBy": "city:asc"},
        {"orderBy": "firstName:up"},
    ):
        response = api.get(P, params=params)
        assert response.status_code == 400, params
        assert service_exception(response)["messageId"] == "BAD_REQUEST"


def test_list_ordering_and_filter(api, infobip_sandbox):
    infobip_sandbox.seed_persons(30)
    ordered = api.get(P, params={"orderBy": "firstName:desc", "limit": 30}).json()
    names = [p["firstName"] for p in ordered["persons"]]
    assert names == sorted(names, reverse=True)
    assert ordered["orderBy"] == "firstName:desc"
    flt = json.dumps({"#and": [{"firstName": "Ana"}, {"#startsWith": {"externalId": "seed-"}}]})
    found = api.get(P, params={"filter": flt, "includeTotalCount": "true"}).json()
    assert found["totalCount"] == 3
    assert {p["firstName"] for p in found["persons"]} == {"Ana"}
    bad = api.get(P, params={"filter": '{"#like": {"firstName": "A"}}'})
    assert bad.status_code == 400
    assert "unknown operator '#like'" in service_exception(bad)["text"]


def test_paging_through_many_persons_sees_each_once(api, infobip_sandbox):
    infobip_sandbox.seed_persons(5000)
    seen, page = [], 1
    while True:
        batch = api.get(P, params={"limit": 1000, "page": page}).json()["persons"]
        if not batch:
            break
        seen += [p["id"] for p in batch]
        page += 1
    assert len(seen) == len(set(seen)) == 5000


# --- batches --------------------------------------------------------------------------------------------


def test_batch_create_is_200_when_all_succeed_and_207_with_failed_items_only(api, infobip_sandbox):
    ok = api.post(P + "/batch", json={"people": [{"externalId": "a"}, {"externalId": "b"}]})
    assert ok.status_code == 200
    assert ok.json() == {"results": []}
    mixed = api.post(
        P + "/batch",
        json={
            "people": [
                {"externalId": "c", "contactInformation": {"email": [{"address": "jane@acme.com"}]}},
                {"externalId": "d", "contactInformation": {"email": [{"address": "Jane@acme.com"}]}},
                {"firstName": "Bad;Name"},
                {"externalId": "a"},
            ]
        },
    )
    assert mixed.status_code == 207
    assert mixed.json()["results"] == [
        {"errors": [{"message": "Destination(email) Jane@acme.com already exists."}], "status": 409, "index": 1},
        {"errors": [{"message": "firstName: contains forbidden characters: ';'"}], "status": 400, "index": 2},
        {"errors": [{"message": "Person with externalId a already exists."}], "status": 409, "index": 3},
    ]
    assert len(infobip_sandbox.store.persons) == 3


def test_batch_limits(api):
    assert api.post(P + "/batch", json={"people": [{}] * 1001}).status_code == 400
    assert api.post(P + "/batch", json={"people": []}).status_code == 400
    assert api.post(P + "/batch", json={"persons": [{}]}).status_code == 400
    assert api.post(P + "/batch", json={"people": [{"externalId": str(i)} for i in range(1000)]}).status_code == 200


def test_batch_update_and_delete_report_unmatched_queries(api):
    api.post(P + "/batch", json={"people": [{"externalId": "a", "firstName": "A"}, {"externalId": "b"}]})
    updated = api.patch(
        P + "/batch",
        json={
            "people": [
                {"query": by_ext("a"), "update": {"lastName": "Z"}},
                {"query": {"type": "PHONE", "identifier": "41793026727"}, "update": {"firstName": "X"}},
            ]
        },
    )
    assert updated.status_code == 207
    assert updated.json()["results"] == [
        {
            "errors": [{"message": "There is no person matching the query"}],
            "status": 409,
            "query": {"type": "PHONE", "identifier": "41793026727"},
            "isModified": False,
        }
    ]
    assert api.get(P, params=by_ext("a")).json()["firstName"] == "A"
    deleted = api.delete(P + "/batch", json={"people": [{"query": by_ext("a")}, {"query": by_ext("zz")}]})
    assert deleted.status_code == 207
    assert deleted.json()["results"][0]["query"] == by_ext("zz")
    assert api.delete(P + "/batch", json={"people": [{"query": by_ext("b")}]}).status_code == 200


def test_match_returns_person_ids_for_known_identities_once(api):
    person = api.post(P, json={"externalId": "a", "contactInformation": {"email": [{"address": "a@x.com"}]}}).json()
    matches = api.post(
        P + "/match",
        json={
            "identities": [
                {"type": "EXTERNAL_ID", "identifier": "a"},
                {"type": "EMAIL", "identifier": "A@x.com"},
                {"type": "EXTERNAL_ID", "identifier": "a"},
                {"type": "PHONE", "identifier": "41793026727"},
            ]
        },
    ).json()["matches"]
    assert matches == [
        {"personId": person["id"], "type": "EXTERNAL_ID", "identifier": "a"},
        {"personId": person["id"], "type": "EMAIL", "identifier": "A@x.com"},
    ]
    assert api.post(P + "/match", json={"identities": [{"type": "EMAIL"}]}).status_code == 400


# --- v3 --------------------------------------------------------------------------------------------------


def test_upsert_reports_created_updated_not_modified_and_errors(api):
    body = {
        "persons": [
            {"externalId": "a", "firstName": "A"},
            {"firstName": "Joe", "contactInformation": [{"identifier": "x@y.com", "type": "EMAIL"}]},
        ]
    }
    first = api.patch("/people/3/persons/upsert", json=body)
    assert first.status_code == 207
    assert [r["status"] for r in first.json()["results"]] == ["CREATED", "CREATED"]
    again = api.patch("/people/3/persons/upsert", json=body).json()
    assert [r["status"] for r in again["results"]] == ["NOT_MODIFIED", "NOT_MODIFIED"]
    changed = api.put("/people/3/persons/upsert", json={"persons": [{"externalId": "a", "lastName": "L"}]}).json()
    assert changed["results"][0]["status"] == "UPDATED"
    assert "firstName" not in api.get(P, params=by_ext("a")).json()  # PUT upsert cleared it
    invalid = api.patch(
        "/people/3/persons/upsert",
        json={
            "persons": [
                {"contactInformation": [{"identifier": "john.doe@example", "type": "EMAIL"}]},
                {"externalId": "b"},
            ]
        },
    ).json()
    assert invalid["errors"] == [
        {
            "code": 400100,
            "message": "One or more properties of the person are invalid",
            "index": 0,
            "details": [
                {"property": "persons[0].contactInformation[0].identifier", "message": "Email address is invalid"}
            ],
        }
    ]
    assert invalid["results"][0]["index"] == 1


def test_v3_whole_request_errors_use_the_v3_body(api):
    missing = api.put("/people/3/persons/upsert", json={})
    assert missing.status_code == 400
    assert missing.json() == {
        "code": 400104,
        "message": "Missing required property 'persons'",
        "details": [{"property": "persons", "message": "Required, but value is missing"}],
    }
    malformed = api.post("/people/3/persons/merge", data="{", headers={"Content-Type": "application/json"})
    assert malformed.json() == {"code": 400103, "message": "Malformed JSON body, wrong syntax"}
    assert api.put("/people/3/persons/upsert", json={"persons": [{}] * 1001}).json()["code"] == 400101


def test_merge_consolidates_into_the_oldest_profile(api, infobip_sandbox):
    make_tag(api, "A")
    make_tag(api, "B")
    old = api.post(P, json={"externalId": "x1", "firstName": "Old", "type": "LEAD", "tags": ["A"]}).json()
    new = api.post(
        P,
        json={"lastName": "Customer", "tags": ["B"], "contactInformation": {"email": [{"address": "m@x.com"}]}},
    ).json()
    merged = api.post(
        "/people/3/persons/merge",
        json={
            "persons": [
                {
                    "externalId": "x1",
                    "city": "Zagreb",
                    "contactInformation": [
                        {"type": "EMAIL", "identifier": "m@x.com"},
                        {"type": "FACEBOOK", "identifier": "fb1", "sender": "app1"},
                    ],
                }
            ]
        },
    ).json()
    assert merged == {"errors": [], "results": [{"id": old["id"], "index": 0}]}
    person = api.get(P, params=by_ext("x1")).json()
    assert person["id"] == old["id"]
    assert person["createdAt"] == old["createdAt"]
    assert person["type"] == "CUSTOMER"
    assert person["city"] == "Zagreb"
    assert person["lastName"] == "Customer"
    assert sorted(person["tags"]) == ["A", "B"]
    assert person["contactInformation"]["facebook"] == [{"applicationId": "app1", "userId": "fb1"}]
    assert api.get(P, params={"type": "ID", "identifier": new["id"]}).status_code == 404
    assert api.get(P, params={"type": "FACEBOOK", "identifier": "fb1", "sender": "app1"}).json()["id"] == old["id"]
    created = api.post("/people/3/persons/merge", json={"persons": [{"externalId": "fresh"}]}).json()
    assert created["results"][0]["id"] not in (old["id"], new["id"])
