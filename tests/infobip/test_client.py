"""The Infobip client against the sandbox (and a tiny raw HTTP server for error families it doesn't produce)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from infobip import client as ib
from infobip.client import InfobipClient
from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY

EXT = "EXTERNAL_ID"


def make_client(sandbox, **options):
    options = {"max_retries": 3, "backoff": 0.01, "backoff_cap": 0.05, **options}
    return InfobipClient(sandbox.url, SANDBOX_API_KEY, timeout=10, **options)


# --- persons ------------------------------------------------------------------------------------------


def test_person_lifecycle(infobip_client):
    c = infobip_client
    c.create_tag("VIP")
    c.create_custom_attribute("Company", "STRING")
    created = c.create_person(
        {
            "externalId": "p1",
            "firstName": "Jane",
            "tags": ["VIP"],
            "customAttributes": {"Company": "Acme"},
            "contactInformation": {"email": [{"address": "jane@acme.com"}]},
        }
    )
    assert created["id"] > 0
    assert c.get_person(EXT, "p1") == created
    assert c.get_person("EMAIL", "JANE@acme.com")["id"] == created["id"]
    assert c.find_person(EXT, "nobody") is None
    with pytest.raises(ib.NotFound) as info:
        c.get_person(EXT, "nobody")
    assert info.value.status == 404
    assert info.value.code == "NOT_FOUND"
    updated = c.update_person(EXT, "p1", {"lastName": "Smith", "tags": ["VIP"]})
    assert updated["firstName"] == "Jane"
    assert updated["lastName"] == "Smith"
    replaced = c.replace_person(EXT, "p1", {"externalId": "p1", "firstName": "J"})
    assert "lastName" not in replaced
    assert replaced["tags"] == []
    c.delete_person(EXT, "p1")
    assert c.find_person(EXT, "p1") is None


def test_contact_information_methods(infobip_client):
    c = infobip_client
    c.create_person({"externalId": "p"})
    added = c.add_contact_information(
        EXT, "p", {"email": [{"address": "a@x.com"}], "phone": [{"number": "38591000001"}]}
    )
    assert added["contactInformation"]["email"] == [{"address": "a@x.com"}]
    replaced = c.replace_contact_information(EXT, "p", {"email": [{"address": "b@x.com"}]})
    assert replaced["contactInformation"] == {"email": [{"address": "b@x.com"}]}
    removed = c.remove_contact_information(EXT, "p", {"email": [{"address": "b@x.com"}]})
    assert removed["contactInformation"] == {}


def test_list_and_iterate_persons(infobip_client, infobip_sandbox):
    infobip_sandbox.seed_persons(2345)
    page = infobip_client.list_persons(limit=100, page=2, include_total_count=True, order_by="createdAt:asc")
    assert len(page["persons"]) == 100
    assert page["totalCount"] == 2345
    assert page["page"] == 2
    flt = {"#and": [{"firstName": "Ana"}, {"#startsWith": {"externalId": "seed-1"}}]}
    filtered = infobip_client.list_persons(filter=flt, limit=1000, include_total_count=True)
    assert filtered["totalCount"] == len(filtered["persons"]) > 0
    assert {p["firstName"] for p in filtered["persons"]} == {"Ana"}
    ids = [p["id"] for p in infobip_client.iter_persons(page_size=1000)]
    assert len(ids) == len(set(ids)) == 2345
    assert infobip_sandbox.calls("GET /people/2/persons") == 2 + 3


def test_batch_methods(infobip_client, infobip_sandbox):
    c = infobip_client
    result = c.create_persons([{"externalId": f"b{i}"} for i in range(1000)])
    assert result["results"] == []
    assert result["partial"] is False
    partial = c.create_persons([{"externalId": "b1"}, {"externalId": "new"}])
    assert partial["partial"] is True
    assert partial["results"][0]["status"] == 409
    updated = c.update_persons(
        [
            {"query": {"type": EXT, "identifier": "b1"}, "update": {"firstName": "One"}},
            {"query": {"type": EXT, "identifier": "missing"}, "update": {"firstName": "X"}},
        ]
    )
    assert updated["partial"] is True
    assert updated["results"][0]["errors"] == [{"message": "There is no person matching the query"}]
    assert c.get_person(EXT, "b1")["firstName"] == "One"
    deleted = c.delete_persons([{"type": EXT, "identifier": f"b{i}"} for i in range(10)])
    assert deleted["partial"] is False
    assert len(infobip_sandbox.store.persons) == 991
    with pytest.raises(ValueError, match="1 to 1000"):
        c.create_persons([{}] * 1001)


def test_match_upsert_merge(infobip_client):
    c = infobip_client
    person = c.create_person({"externalId": "m1"})
    assert c.match_persons([{"type": EXT, "identifier": "m1"}, {"type": EXT, "identifier": "none"}]) == [
        {"personId": person["id"], "type": EXT, "identifier": "m1"}
    ]
    upserted = c.upsert_persons([{"externalId": "m1", "firstName": "M"}, {"externalId": "m2"}])
    assert [r["status"] for r in upserted["results"]] == ["UPDATED", "CREATED"]
    full = c.upsert_persons([{"externalId": "m1"}], partial=False)
    assert full["results"][0]["status"] == "UPDATED"
    assert "firstName" not in c.get_person(EXT, "m1")
    merged = c.merge_persons([{"externalId": "m1", "contactInformation": [{"type": "EMAIL", "identifier": "m@x.com"}]}])
    assert merged == {"errors": [], "results": [{"id": person["id"], "index": 0}]}
    bad = c.upsert_persons([{"contactInformation": [{"type": "EMAIL", "identifier": "nope"}]}])
    assert bad["errors"][0]["code"] == 400100


def test_tags_and_custom_attributes(infobip_client):
    c = infobip_client
    tag = c.create_tag("VIP")
    assert c.ensure_tag("VIP") == tag
    assert c.get_tag("VIP") == tag
    assert c.list_tags(include_total_count=True) == {"tags": [tag], "limit": 20, "page": 1, "totalCount": 1}
    c.create_persons([{"externalId": "t1"}, {"externalId": "t2"}])
    c.tag_persons("VIP", [{"type": EXT, "identifier": "t1"}, {"type": EXT, "identifier": "t2"}])
    assert c.get_person(EXT, "t2")["tags"] == ["VIP"]
    c.untag_persons("VIP", [{"type": EXT, "identifier": "t2"}])
    assert c.get_person(EXT, "t2")["tags"] == []
    c.delete_tag("VIP")
    with pytest.raises(ib.NotFound):
        c.get_tag("VIP")
    c.create_tag("A")
    with pytest.raises(ib.AlreadyExists):
        c.create_tag("A")

    definition = c.create_custom_attribute("Cart", "LIST_OF_OBJECTS", object_schema={"sku": "STRING"})
    assert definition["objectSchema"] == {"sku": "STRING"}
    assert c.get_custom_attribute("Cart") == definition
    assert c.list_custom_attributes()["customAttributes"] == [definition]
    with pytest.raises(ib.AlreadyExists):
        c.create_custom_attribute("Cart", "STRING")
    with pytest.raises(ib.ValidationError) as info:
        c.create_custom_attribute("bad{name}", "STRING")
    assert "name" in info.value.field_errors
    c.delete_custom_attribute("Cart")
    assert c.list_custom_attributes()["customAttributes"] == []


def test_tags_list_tolerates_a_bare_array(infobip_sandbox):
    infobip_sandbox.api.tags_list_style = "array"
    client = make_client(infobip_sandbox)
    client.create_tag("X")
    listed = client.list_tags()
    assert [t["name"] for t in listed["tags"]] == ["X"]
    assert listed["page"] == 1


def test_companies(infobip_client):
    c = infobip_client
    company = c.create_company({"name": "Infobip", "domains": ["infobip.com"]})
    assert c.get_company(name="infobip") == company
    assert c.find_company(domain="nope.com") is None
    with pytest.raises(ValueError, match="exactly one"):
        c.get_company(name="a", id=1)
    updated = c.update_company({"domains": ["ib.com"]}, id=company["id"])
    assert updated["domains"] == ["infobip.com", "ib.com"]
    replaced = c.update_company({"domains": ["ib.com"]}, name="Infobip", replace_domains=True)
    assert replaced["domains"] == ["ib.com"]
    assert c.list_companies(include_total_count=True)["totalCount"] == 1
    assert c.list_companies(filter={"#contains": {"domains": "ib.com"}})["companies"][0]["id"] == company["id"]
    batch = c.create_companies([{"name": "A"}, {"name": "infobip"}])
    assert batch["partial"] is True
    assert [r["status"] for r in batch["results"]] == [200, 409]
    assert c.update_companies([{"query": {"name": "A"}, "update": {"segment": "S"}}])["partial"] is False
    c.create_person({"externalId": "emp"})
    c.add_persons_to_company([{"type": EXT, "identifier": "emp"}], name="Infobip")
    c.remove_persons_from_company([{"type": EXT, "identifier": "emp"}], name="Infobip")
    assert c.delete_companies([{"name": "A"}, {"name": "zzz"}])["partial"] is True
    c.delete_company(id=company["id"])
    assert c.find_company(id=company["id"]) is None


def test_events(infobip_client, infobip_sandbox):
    c = infobip_client
    definition = c.create_event_definition(
        {"definitionId": "purchase", "title": "Purchase", "fields": [{"name": "amount", "type": "Decimal"}]}
    )
    assert definition["definitionId"] == "purchase"
    with pytest.raises(ib.AlreadyExists) as info:
        c.create_event_definition({"definitionId": "purchase", "title": "Again"})
    assert info.value.status == 409
    assert c.get_event_definition("purchase") == definition
    updated = c.update_event_definition("purchase", {"title": "Bought", "fields": [{"name": "sku", "type": "String"}]})
    assert [f["name"] for f in updated["fields"]] == ["amount", "sku"]
    assert [d["definitionId"] for d in c.list_event_definitions(category=["external"])] == ["purchase"]
    person = c.create_person({"externalId": "buyer"})
    event = c.send_event("purchase", person["id"], properties={"amount": 9.5}, event_id="order-1")
    assert event["eventId"] == "order-1"
    assert c.send_event("purchase", "buyer", identifier_type=EXT, event_id="order-1") == event
    generated = c.send_event("purchase", "buyer", identifier_type=EXT)
    assert len(generated["eventId"]) == 32
    items = c.send_events(
        [
            {
                "definitionId": "purchase",
                "occurredTime": "2099-01-01T00:00:00.000Z",
                "identifier": {"id": "buyer", "type": EXT},
            }
        ]
    )
    assert items[0]["eventId"]
    assert len(infobip_sandbox.store.events[person["id"]]) == 3
    with pytest.raises(ib.ValidationError) as problem:
        c.send_events(
            [{"definitionId": "nope", "occurredTime": "2099-01-01T00:00:00Z", "identifier": {"id": "1", "type": "ID"}}]
        )
    assert problem.value.code == "400501"
    assert problem.value.details[0]["index"] == 0


# --- error families -------------------------------------------------------------------------------------


def test_classic_validation_error_with_field_errors(infobip_client):
    with pytest.raises(ib.ValidationError) as info:
        infobip_client.create_person({"firstName": "Bad<Name", "middleName": "x" * 51})
    error = info.value
    assert error.status == 400
    assert error.code == "BAD_REQUEST"
    assert set(error.field_errors) == {"firstName", "middleName"}
    assert error.endpoint == "POST /people/2/persons"
    assert json.loads(error.body)["requestError"]["serviceException"]["messageId"] == "BAD_REQUEST"


def test_duplicate_single_create_is_already_exists_from_a_400(infobip_client):
    infobip_client.create_person({"contactInformation": {"email": [{"address": "a@x.com"}]}})
    with pytest.raises(ib.AlreadyExists) as info:
        infobip_client.create_person({"contactInformation": {"email": [{"address": "A@x.com"}]}})
    assert info.value.status == 400
    assert isinstance(info.value, ib.Conflict)
    assert isinstance(info.value, ib.ValidationError)


def test_unauthorized(infobip_sandbox):
    client = InfobipClient(infobip_sandbox.url, "wrong", timeout=5)
    with pytest.raises(ib.Unauthorized) as info:
        client.list_persons()
    assert info.value.code == "UNAUTHORIZED"


def test_v3_error_body(infobip_client, infobip_sandbox):
    with pytest.raises(ib.ValidationError) as info:
        infobip_client._request("PUT", "/people/3/persons/upsert", json_body={})
    assert info.value.code == "400104"
    assert info.value.field_errors == {"persons": ["Required, but value is missing"]}


class RawHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    replies: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append(self.path)
        status, headers, body = self.server.replies.pop(0) if self.server.replies else (200, {}, b"{}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET


@pytest.fixture
def raw_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RawHandler)
    server.daemon_threads = True
    server.replies = []
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def reply(status, body, headers=None):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (status, {"Content-Type": "application/json", **(headers or {})}, payload)


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (
            403,
            {"requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}},
            ib.Forbidden,
            "FORBIDDEN",
            "Forbidden",
        ),
        (
            404,
            {"errorCode": "E404", "description": "Not found", "action": "x", "violations": [], "resources": []},
            ib.NotFound,
            "E404",
            "Not found",
        ),
        (
            400,
            {
                "errorCode": "E400",
                "description": "Bad",
                "action": "",
                "violations": [{"property": "name", "violation": "must not be null"}],
                "resources": [],
            },
            ib.ValidationError,
            "E400",
            "Bad",
        ),
        (
            404,
            {"errorCode": 48012, "errorMessage": "Push application not found"},
            ib.NotFound,
            "48012",
            "Push application not found",
        ),
        (
            400,
            {
                "errorCode": 40005,
                "errorMessage": "Email already exists",
                "validationErrors": [{"propertyPath": "email", "message": "taken"}],
            },
            ib.AlreadyExists,
            "40005",
            "Email already exists",
        ),
        (409, {"code": 409100, "message": "Conflict"}, ib.Conflict, "409100", "Conflict"),
        (
            409,
            {"code": 409100, "message": "Person already exists"},
            ib.AlreadyExists,
            "409100",
            "Person already exists",
        ),
        (
            400,
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "traceId": "t",
                "errors": [{"index": -1, "code": 400502, "message": "The batch cannot be empty."}],
            },
            ib.ValidationError,
            "400502",
            "The batch cannot be empty.",
        ),
        (
            404,
            {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.5", "title": "Not Found", "status": 404},
            ib.NotFound,
            None,
            "Not Found",
        ),
        (502, b"<html>Bad gateway</html>", ib.ServerError, None, "<html>Bad gateway</html>"),
        (418, b"", ib.InfobipError, None, "HTTP 418 without a body"),
        (400, ["unexpected", "shape"], ib.ValidationError, None, '["unexpected", "shape"]'),
    ],
)
def test_every_error_family_is_parsed(raw_server, status, body, cls, code, message):
    raw_server.replies = [reply(status, body)]
    client = InfobipClient(raw_server.url, "k", timeout=5, max_retries=0)
    with pytest.raises(ib.InfobipError) as info:
        client.list_tags()
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.code == code
    assert info.value.message == message


def test_new_style_violations_become_field_errors():
    error = ib.parse_error(
        400,
        json.dumps({"errorCode": "E400", "description": "Bad", "violations": [{"property": "a", "violation": "b"}]}),
    )
    assert error.field_errors == {"a": ["b"]}
    assert error.details == [{"property": "a", "violation": "b"}]


def test_retry_after_http_date_and_seconds():
    assert ib.parse_error(429, "", {"Retry-After": "3"}).retry_after == 3.0
    assert ib.parse_error(429, "", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}).retry_after == 0.0
    assert ib.parse_error(429, "", {}).retry_after is None


def test_response_that_is_not_json_is_an_error(raw_server):
    raw_server.replies = [(200, {"Content-Type": "text/plain"}, b"hello")]
    with pytest.raises(ib.InfobipError, match="not JSON"):
        InfobipClient(raw_server.url, "k", timeout=5).list_tags()


# --- retries --------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured(infobip_sandbox):
    waits = []
    client = make_client(infobip_sandbox, sleep=waits.append)
    infobip_sandbox.faults.script("GET /people/2/persons", ("429", 2), ("429", 1))
    assert client.list_persons()["persons"] == []
    assert waits == [2.0, 1.0]
    assert infobip_sandbox.calls("GET /people/2/persons") == 3


def test_429_without_retry_after_backs_off_exponentially_with_jitter(infobip_sandbox):
    waits = []
    client = make_client(infobip_sandbox, sleep=waits.append, backoff=1.0, backoff_cap=3.0, max_retries=4)
    infobip_sandbox.faults.script("POST /people/2/persons", 429, 429, 429, 429)
    client.create_person({"externalId": "x"})  # 429 means not processed: even creates are re-sent
    assert len(waits) == 4
    for wait, ceiling in zip(waits, (1.0, 2.0, 3.0, 3.0), strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert len(infobip_sandbox.store.persons) == 1


def test_real_rate_limits_are_survived_by_retrying(infobip_sandbox):
    infobip_sandbox.set_rate_limits(0.4)  # 2 GETs per second
    client = make_client(infobip_sandbox, max_retries=10, backoff=0.2, backoff_cap=0.5)
    for _ in range(5):
        client.list_persons()
    assert infobip_sandbox.stats()["faults"]["rate_limited"]["GET /people/2/persons"] >= 1


def test_server_errors_are_retried_for_idempotent_calls(infobip_sandbox):
    client = make_client(infobip_sandbox)
    client.create_person({"externalId": "x"})
    infobip_sandbox.faults.script("PATCH /people/2/persons", 503, 500)
    assert client.update_person(EXT, "x", {"firstName": "X"})["firstName"] == "X"
    assert infobip_sandbox.calls("PATCH /people/2/persons") == 3
    infobip_sandbox.faults.script("GET /people/2/persons", 500, 500, 500, 500)
    with pytest.raises(ib.ServerError) as info:
        client.get_person(EXT, "x")
    assert info.value.code == "GENERAL_ERROR"
    assert infobip_sandbox.calls("GET /people/2/persons") == 4  # 1 + max_retries


def test_server_errors_are_not_retried_for_non_idempotent_calls(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/companies/batch", 503)
    with pytest.raises(ib.ServerError):
        client.create_companies([{"name": "A"}])
    assert infobip_sandbox.calls("POST /people/2/companies/batch") == 1


def test_dropped_connection_is_retried_for_reads(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("GET /people/2/tags", "drop", "drop")
    assert client.list_tags()["tags"] == []
    assert infobip_sandbox.calls("GET /people/2/tags") == 3
    infobip_sandbox.faults.script("GET /people/2/tags", "drop", "drop", "drop", "drop")
    with pytest.raises(ib.Unreachable):
        client.list_tags()


def test_unreachable_host_is_typed():
    client = InfobipClient("http://127.0.0.1:9", "k", timeout=2, max_retries=0)
    with pytest.raises(ib.Unreachable) as info:
        client.list_persons()
    assert isinstance(info.value.__cause__, Exception)


def test_timeout_is_typed_and_retried(infobip_sandbox):
    client = InfobipClient(infobip_sandbox.url, SANDBOX_API_KEY, timeout=0.3, max_retries=1, backoff=0.01)
    infobip_sandbox.faults.script("GET /people/2/tags", "delay:1000")
    assert client.list_tags()["tags"] == []  # the retry succeeds
    infobip_sandbox.faults.script("GET /people/2/tags", "delay:1000", "delay:1000")
    with pytest.raises(ib.Timeout):
        client.list_tags()


def test_lost_create_response_does_not_duplicate_the_person(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/persons", "lose")
    person = client.create_person({"externalId": "once", "firstName": "Jane"})
    assert person["externalId"] == "once"
    assert len(infobip_sandbox.store.persons) == 1
    assert infobip_sandbox.stats()["effects"]["persons_created"] == 1
    assert infobip_sandbox.calls("POST /people/2/persons") == 1  # found by lookup, not re-sent


def test_lost_create_without_external_id_is_found_by_email(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/persons", "lose")
    person = client.create_person({"contactInformation": {"email": [{"address": "e@x.com"}]}})
    assert person["contactInformation"]["email"] == [{"address": "e@x.com"}]
    assert len(infobip_sandbox.store.persons) == 1


def test_create_failing_before_processing_is_sent_again(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/persons", "drop", 503)
    client.create_person({"externalId": "x"})
    assert infobip_sandbox.calls("POST /people/2/persons") == 3
    assert len(infobip_sandbox.store.persons) == 1


def test_random_lost_creates_arrive_exactly_once(infobip_sandbox):
    client = make_client(infobip_sandbox, max_retries=8)
    infobip_sandbox.set_faults(lose_create_rate=0.3, error_rate=0.1, drop_rate=0.1, seed=11)
    for i in range(60):
        client.create_person({"externalId": f"p{i}"})
    infobip_sandbox.set_faults(lose_create_rate=0, error_rate=0, drop_rate=0)
    assert len(infobip_sandbox.store.persons) == 60
    assert infobip_sandbox.stats()["effects"]["persons_created"] == 60
    assert sum(infobip_sandbox.stats()["faults"].get("lost_responses", {}).values()) > 0


def test_lost_batch_and_event_responses_are_retried_safely(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/persons/batch", "lose")
    result = client.create_persons([{"externalId": "a"}, {"externalId": "b"}])
    assert result["retried"] is True
    assert len(infobip_sandbox.store.persons) == 2
    client.create_event_definition({"definitionId": "ping", "title": "Ping"})
    infobip_sandbox.faults.script("POST /peopleevents/2/persons/{personId}/definitions/{definitionId}/events", "lose")
    client.send_event("ping", "a", identifier_type=EXT)
    infobip_sandbox.faults.script("POST /people/3/events", "lose")
    client.send_events(
        [{"definitionId": "ping", "occurredTime": "2099-01-01T00:00:00Z", "identifier": {"id": "b", "type": EXT}}]
    )
    assert infobip_sandbox.stats()["effects"]["events_recorded"] == 2
    assert infobip_sandbox.stats()["effects"]["events_deduplicated"] == 2


def test_lost_tag_and_company_creates_are_found(infobip_sandbox):
    client = make_client(infobip_sandbox)
    infobip_sandbox.faults.script("POST /people/2/tags", "lose")
    assert client.create_tag("T")["name"] == "T"
    infobip_sandbox.faults.script("POST /people/2/companies", "lose")
    assert client.create_company({"name": "C"})["name"] == "C"
    infobip_sandbox.faults.script("POST /people/2/customAttributes", "lose")
    assert client.create_custom_attribute("A", "STRING")["name"] == "A"
    infobip_sandbox.faults.script("POST /peopleevents/2/definitions", "lose")
    assert client.create_event_definition({"definitionId": "d1", "title": "D"})["definitionId"] == "d1"
    assert len(infobip_sandbox.store.tags) == 1


def test_keep_alive_session_is_reused(infobip_client, infobip_sandbox):
    for _ in range(10):
        infobip_client.list_tags()
    assert infobip_sandbox.connections_opened == 1


def test_client_for_realm_caches_per_account_and_falls_back_to_settings(infobip_settings, infobip_sandbox):
    realm = SimpleNamespace(pk=1, infobip_base_url=None, infobip_api_key=None)
    client = ib.client_for_realm(realm)
    assert client.base_url == infobip_sandbox.url
    assert (
        ib.client_for_realm(
            SimpleNamespace(pk=2, infobip_base_url=infobip_sandbox.url, infobip_api_key=SANDBOX_API_KEY)
        )
        is client
    )
    other = ib.client_for_realm(SimpleNamespace(pk=3, infobip_base_url=infobip_sandbox.url, infobip_api_key="other"))
    assert other is not client
    assert client.list_tags()["tags"] == []
    with pytest.raises(ib.Unauthorized):
        other.list_tags()
    infobip_settings.INFOBIP_BASE_URL = ""
    with pytest.raises(ValueError, match="no Infobip base URL"):
        ib.client_for_realm(SimpleNamespace(pk=4, infobip_base_url=None, infobip_api_key="k"))


def test_every_request_has_a_timeout(infobip_sandbox, monkeypatch):
    client = make_client(infobip_sandbox)
    seen = []
    original = client.session.request

    def spy(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", spy)
    client.list_persons()
    client.create_tag("x")
    assert seen == [10, 10]
