"""The sandbox against Infobip's OpenAPI spec: routes, rate limits and every response body."""

import json
from datetime import UTC, datetime

import pytest
import requests

from infobip.contract.limits import PUBLISHED_LIMITS
from infobip.sandbox import ResponseRecorder, SandboxServer
from infobip.sandbox.conformance import SPEC_PATH, Conformance, schemathesis_spec
from infobip.sandbox.handlers import Api
from infobip.sandbox.store import Store

SPEC = json.loads(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def conformance():
    return Conformance(SPEC)


def test_vendored_spec_is_infobips_people_spec():
    assert SPEC["openapi"] == "3.1.0"
    assert SPEC["info"]["version"] == "3.210.0"


def test_every_sandbox_route_is_a_spec_operation():
    routes = Api(Store()).routes
    for route in routes:
        assert route.method.lower() in SPEC["paths"][route.template], route.endpoint


def test_published_limits_match_the_specs_throttling_info():
    for endpoint, limit in PUBLISHED_LIMITS.items():
        method, template = endpoint.split(" ", 1)
        [info] = SPEC["paths"][template][method.lower()]["x-throttling-info"]
        assert info == {"type": "time", "numberOfRequests": limit, "numberOfTimeUnits": 0, "timeUnit": "s"}
    for route in Api(Store()).routes:
        info = SPEC["paths"][route.template][route.method.lower()].get("x-throttling-info")
        if info and info[0]["type"] == "time":
            assert PUBLISHED_LIMITS[route.endpoint] == info[0]["numberOfRequests"], route.endpoint
        else:
            assert route.endpoint not in PUBLISHED_LIMITS


def test_checker_reports_violations(conformance):
    assert conformance.check("GET", "/people/2/persons", 200, b'{"id": "seven"}')
    assert conformance.check("GET", "/people/2/persons", 200, b'{"persons": [{"tags": "VIP"}], "limit": 1, "page": 1}')
    assert "not declared" in conformance.check("POST", "/people/3/persons/merge", 404, b"{}")[0]
    gateway = b'{"requestError": {"serviceException": {"messageId": "SERVICE_UNAVAILABLE", "text": "x"}}}'
    assert conformance.check("POST", "/people/3/events", 503, gateway) == []  # erratum 7
    assert conformance.check("POST", "/people/3/events", 429, b'{"requestError": []}')
    assert "empty body" in conformance.check("GET", "/people/2/tags/{name}", 200, b"")[0]
    assert conformance.check("POST", "/people/3/events", 400, b'{"title": "x"}')  # type and status required
    assert conformance.check("DELETE", "/people/2/tags/{name}", 200, b"") == []
    assert conformance.check("GET", "/people/2/persons", 404, b'{"requestError": {}}') == []


PERSONS = "/people/2/persons"
EXT = {"type": "EXTERNAL_ID", "identifier": "p1"}


def _caller(url):
    """A function that calls the sandbox at url with an API key, as the client would."""
    s = requests.Session()
    s.headers["Authorization"] = "App key"

    def call(method, path, **kw):
        return s.request(method, url + path, timeout=10, **kw)

    return call


def _seed(server):
    """A person with push and Facebook contacts and list attributes, loaded straight into the store."""
    server.load_persons(
        [
            {
                "externalId": "seeded",
                "contactInformation": {
                    "push": [{"applicationId": "app", "registrationId": "reg", "systemData": {"os": "Android"}}],
                    "facebook": [{"applicationId": "fb", "userId": "u1", "systemData": {"displayName": "J"}}],
                },
                "customAttributes": {"Cart": [{"sku": "a", "price": 1.5}], "Since": "2020-01-01"},
            }
        ]
    )


def _tags_and_attributes(call):
    """Tags and custom attribute definitions: create, duplicate, list, get, missing."""
    call("POST", "/people/2/tags", json={"name": "VIP"})
    call("POST", "/people/2/tags", json={"name": "VIP"})  # 400
    call("GET", "/people/2/tags", params={"includeTotalCount": "true", "orderBy": "name:asc"})
    call("GET", "/people/2/tags/VIP")
    call("GET", "/people/2/tags/missing")  # 404
    call("POST", "/people/2/customAttributes", json={"name": "Company", "dataType": "STRING"})
    call("POST", "/people/2/customAttributes", json={"name": "a{b", "dataType": "STRING"})  # 400
    call("GET", "/people/2/customAttributes", params={"includeTotalCount": "true"})
    call("GET", "/people/2/customAttributes/Company")
    call("GET", "/people/2/customAttributes/missing")  # 404


def _persons(call):
    """Persons one at a time: create, look-ups, lists, filters, updates and contact information."""
    person = {
        "externalId": "p1",
        "firstName": "Jane",
        "gender": "FEMALE",
        "birthDate": "1966-01-15",
        "preferredLanguage": "en-gb",
        "tags": ["VIP"],
        "customAttributes": {"Company": "Acme"},
        "contactInformation": {"email": [{"address": "jane@acme.com"}], "phone": [{"number": "41793026727"}]},
    }
    call("POST", PERSONS, json=person)
    call("POST", PERSONS, json=person)  # 400 duplicate
    call("GET", PERSONS, params=EXT)
    call("GET", PERSONS, params={"type": "PUSH", "identifier": "reg", "sender": "app"})
    call("GET", PERSONS, params={"type": "EXTERNAL_ID", "identifier": "nobody"})  # 404
    call("GET", PERSONS, params={"limit": 5, "includeTotalCount": "true", "orderBy": "createdAt:desc"})
    call("GET", PERSONS, params={"filter": json.dumps({"#contains": {"tags": "VIP"}})})
    call("GET", PERSONS, params={"limit": 1001})  # 400
    call("PATCH", PERSONS, params=EXT, json={"lastName": "Smith"})
    call("PUT", PERSONS, params=EXT, json={**person, "city": "London"})
    call(
        "PUT",
        PERSONS + "/contactInformation",
        params=EXT,
        json={"contactInformation": {"email": [{"address": "j@a.com"}]}},
    )
    call(
        "PATCH",
        PERSONS + "/contactInformation",
        params=EXT,
        json={"contactInformation": {"phone": [{"number": "41793026728"}]}},
    )
    call(
        "DELETE",
        PERSONS + "/contactInformation",
        params=EXT,
        json={"contactInformation": {"phone": [{"number": "41793026728"}]}},
    )


def _batches_match_and_v3(call):
    """Person batches, match, and the v3 upsert and merge."""
    call("POST", PERSONS + "/batch", json={"people": [{"externalId": "b1"}, {"externalId": "p1"}]})
    call("POST", PERSONS + "/batch", json={"people": [{"externalId": "b2"}]})
    call(
        "PATCH",
        PERSONS + "/batch",
        json={"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "nope"}, "update": {}}]},
    )
    call(
        "PATCH",
        PERSONS + "/batch",
        json={"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "b1"}, "update": {"firstName": "B"}}]},
    )
    call(
        "POST",
        PERSONS + "/match",
        json={
            "identities": [
                {"type": "EXTERNAL_ID", "identifier": "p1"},
                {"type": "FACEBOOK", "identifier": "u1", "sender": "fb"},
            ]
        },
    )
    call(
        "PATCH",
        "/people/3/persons/upsert",
        json={"persons": [{"externalId": "u1"}, {"contactInformation": [{"type": "EMAIL", "identifier": "bad"}]}]},
    )
    call("PUT", "/people/3/persons/upsert", json={"persons": [{"externalId": "u1", "firstName": "U"}]})
    call("PUT", "/people/3/persons/upsert", json={})  # 400 v3
    call(
        "POST",
        "/people/3/persons/merge",
        json={
            "persons": [{"externalId": "u1", "contactInformation": [{"type": "EMAIL", "identifier": "jane@acme.com"}]}]
        },
    )
    call("POST", "/people/3/persons/merge", data="{", headers={"Content-Type": "application/json"})  # 400 v3


def _companies_and_memberships(call):
    """Companies, their batches and persons, and tag assignments."""
    call(
        "POST",
        "/people/2/companies",
        json={"name": "Infobip", "domains": ["infobip.com"], "tags": ["VIP"], "customAttributes": {"Company": "x"}},
    )
    call("POST", "/people/2/companies", json={"name": "infobip"})  # 400
    call("GET", "/people/2/companies", params={"name": "Infobip"})
    call("GET", "/people/2/companies", params={"includeTotalCount": "true", "orderBy": "name:asc"})
    call("GET", "/people/2/companies", params={"name": "missing"})  # 404
    call(
        "PATCH",
        "/people/2/companies",
        params={"name": "Infobip", "replaceTags": "true"},
        json={"segment": "S", "tags": []},
    )
    call("POST", "/people/2/companies/batch", json={"companies": [{"name": "A"}, {"name": "a"}]})
    call("PATCH", "/people/2/companies/batch", json={"companies": [{"query": {"name": "Nope"}, "update": {}}]})
    call("PATCH", "/people/2/companies/persons", params={"name": "Infobip"}, json={"people": [{"query": EXT}]})
    call("DELETE", "/people/2/companies/persons", params={"name": "Infobip"}, json={"people": [{"query": EXT}]})
    call(
        "DELETE",
        "/people/2/companies/batch",
        json={"companies": [{"query": {"name": "A"}}, {"query": {"name": "Z"}}]},
    )
    call("DELETE", "/people/2/companies", params={"name": "Infobip"})
    call("PATCH", "/people/2/tags/VIP/persons", json={"people": [{"query": EXT}]})
    call("DELETE", "/people/2/tags/VIP/persons", json={"people": [{"query": EXT}]})


def _events(call):
    """Event definitions and events, one at a time and in a v3 batch."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    definition = {
        "definitionId": "addToCart",
        "title": "Added",
        "fields": [
            {"name": "total", "type": "Decimal"},
            {
                "name": "items",
                "type": "List",
                "schema": {"type": "Object", "fields": [{"name": "sku", "type": "String"}]},
            },
        ],
    }
    call("POST", "/peopleevents/2/definitions", json=definition)
    call("POST", "/peopleevents/2/definitions", json=definition)  # 409
    call("POST", "/peopleevents/2/definitions", json={"definitionId": "bad id"})  # 400
    call("GET", "/peopleevents/2/definitions")
    call("GET", "/peopleevents/2/definitions/addToCart")
    call("GET", "/peopleevents/2/definitions/emailOpened")
    call("GET", "/peopleevents/2/definitions/missing")  # 404
    call(
        "POST",
        "/peopleevents/2/definitions/addToCart",
        json={"title": "Added to cart", "fields": [{"name": "coupon", "type": "String"}]},
    )
    events = "/peopleevents/2/persons/p1/definitions/addToCart/events"
    call(
        "POST",
        events,
        params={"identifierType": "EXTERNAL_ID"},
        json={"eventId": "e1", "properties": {"total": 3, "items": [{"sku": "a"}]}},
    )
    call("POST", events, params={"identifierType": "EXTERNAL_ID"}, json={"properties": {"nope": 1}})  # 400
    call(
        "POST",
        "/peopleevents/2/persons/x/definitions/addToCart/events",
        params={"identifierType": "EXTERNAL_ID"},
        json={},
    )  # 404
    item = {
        "definitionId": "addToCart",
        "occurredTime": now,
        "identifier": {"id": "p1", "type": "EXTERNAL_ID"},
        "properties": {"total": 1},
    }
    call("POST", "/people/3/events", json=[item])
    call("POST", "/people/3/events", json=[{**item, "definitionId": "nope"}])  # 400


def _deletes(call):
    """Deletes of what the steps above created."""
    call("DELETE", "/people/2/tags/VIP")
    call("DELETE", "/people/2/customAttributes/Company")
    call(
        "DELETE",
        PERSONS + "/batch",
        json={
            "people": [
                {"query": {"type": "EXTERNAL_ID", "identifier": "b1"}},
                {"query": {"type": "EXTERNAL_ID", "identifier": "gone"}},
            ]
        },
    )
    call("DELETE", PERSONS, params=EXT)


def _transport_errors(server, call):
    """A call without auth, rate limiting, and scripted server errors."""
    requests.get(server.url + PERSONS, timeout=10)  # 401
    server.set_rate_limits(0.2)
    for _ in range(3):
        call("GET", "/people/2/tags")  # 429
    server.set_rate_limits("off")
    server.faults.script("GET /people/2/persons", 500, 503)
    call("GET", PERSONS)
    call("GET", PERSONS)


def test_one_call_of_every_endpoint_conforms(conformance):
    """Drive every endpoint the sandbox serves (successes and typical errors) and validate each response."""
    recorder = ResponseRecorder()
    with SandboxServer(rate_limits="off", recorder=recorder) as server:
        call = _caller(server.url)
        _seed(server)
        for step in (
            _tags_and_attributes,
            _persons,
            _batches_match_and_v3,
            _companies_and_memberships,
            _events,
            _deletes,
        ):
            step(call)
        _transport_errors(server, call)
    seen = {(method, template) for method, template, *_ in recorder.entries}
    assert seen >= {(route.method, route.template) for route in Api(Store()).routes}
    statuses = {status for _, _, status, _, _ in recorder.entries}
    assert statuses >= {200, 201, 202, 207, 400, 401, 404, 409, 429, 500, 503}
    problems = conformance.check_all(recorder.entries)
    assert problems == []


def test_every_response_recorded_so_far_in_this_session_conforms(conformance, infobip_response_recorder):
    """Everything the in-process sandboxes answered in the tests that ran before this one (the session-end
    hook in the pytest plugin checks the rest)."""
    assert conformance.check_all(list(infobip_response_recorder.entries)) == []


def test_methods_the_sandbox_does_not_serve_are_405_in_infobips_error_shape(conformance):
    with SandboxServer(rate_limits="off") as server:
        for method in ("TRACE", "OPTIONS", "HEAD", "CONNECT", "PROPFIND", "PUT"):
            response = requests.request(
                method, server.url + "/people/2/persons/batch", headers={"Authorization": "App k"}, timeout=10
            )
            assert response.status_code == 405, method
            assert response.headers["Allow"] == "POST, PATCH, DELETE"
            if method != "HEAD":
                assert response.json() == {
                    "requestError": {
                        "serviceException": {
                            "messageId": "METHOD_NOT_ALLOWED",
                            "text": f"Method {method} is not allowed on /people/2/persons/batch",
                        }
                    }
                }
        response = requests.request("TRACE", server.url + "/nowhere", headers={"Authorization": "App k"}, timeout=10)
        assert response.status_code == 404
        assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"
        assert requests.request("TRACE", server.url + "/people/2/tags", timeout=10).status_code == 401


def test_batch_results_echo_the_query_in_the_specs_shape():
    """BatchUpdateResult/BatchDeleteResult: a person's ``query`` is an IdentityQuery (strings), checked against
    Infobip's spec without errata; a company's is its selectors only."""
    strict = Conformance(SPEC, errata=False)
    with SandboxServer(rate_limits="off") as server:
        s = requests.Session()
        s.headers["Authorization"] = "App key"
        missing = {"type": "ID", "identifier": 5}
        answers = {
            "PATCH": s.patch(server.url + "/people/2/persons/batch", json={"people": [{"query": missing}]}, timeout=10),
            "DELETE": s.delete(
                server.url + "/people/2/persons/batch", json={"people": [{"query": missing}]}, timeout=10
            ),
        }
        for method, response in answers.items():
            assert response.status_code == 207
            [result] = response.json()["results"]
            assert result["query"] == {"type": "ID", "identifier": "5"}
            assert strict.check(method, "/people/2/persons/batch", 207, response.content) == []
        body = {"companies": [{"query": {"name": "Nope", "colour": ["blue"]}, "update": {}}]}
        response = s.patch(server.url + "/people/2/companies/batch", json=body, timeout=10)
        assert response.json()["results"][0]["query"] == {"name": "Nope"}
        body = {"companies": [{"query": {"domain": "nope.com", "x": 1}}, {"query": "name"}]}
        response = s.delete(server.url + "/people/2/companies/batch", json=body, timeout=10)
        assert [r["query"] for r in response.json()["results"]] == [{"domain": "nope.com"}, {}]


SCHEMATHESIS_EXAMPLES = {"positive": 6, "negative": 2}  # per operation (40 of them): a few hundred calls


def _schemathesis_run(server, operation, mode, failures, statuses):
    """Up to SCHEMATHESIS_EXAMPLES[mode] generated calls of one operation, problems appended to ``failures``."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=SCHEMATHESIS_EXAMPLES[mode.value],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.headers = {**(case.headers or {}), "Authorization": "App key"}
        response = case.call(base_url=server.url, timeout=10)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            failures.append(f"{mode.value} {case.method} {operation.path}: {str(exc)[:400]}")

    run()


def _existing_deletes(schema, server):
    """Generated names rarely exist: delete an existing tag (from a person too) and custom attribute explicitly."""
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    server.store.create_tag("Gone")
    server.store.create_custom_attribute({"name": "Gone", "dataType": "STRING"})
    people = {"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "p1"}}]}
    cases = [
        schema["/people/2/tags/{name}/persons"]["DELETE"].Case(
            path_parameters={"name": "VIP"}, body=people, media_type="application/json"
        ),
        schema["/people/2/tags/{name}"]["DELETE"].Case(path_parameters={"name": "Gone"}),
        schema["/people/2/customAttributes/{name}"]["DELETE"].Case(path_parameters={"name": "Gone"}),
    ]
    failures = []
    for case in cases:
        case.headers = {"Authorization": "App key"}
        response = case.call(base_url=server.url, timeout=10)
        assert response.status_code == 200, case.formatted_path
        try:
            case.validate_response(
                response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
            )
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"DELETE {case.formatted_path}: {str(exc)[:400]}")
    return failures


@pytest.mark.slow
def test_schemathesis_finds_nothing_against_infobips_spec():
    """Schemathesis generates requests from Infobip's spec (with the errata of conformance.py) for every
    operation the sandbox serves, in both modes: no 5xx, only declared statuses and content types, every
    body conforming. Failures are collected so one run names every failing operation."""
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_dict(schemathesis_spec())
    recorder = ResponseRecorder()
    failures, statuses = [], []
    with SandboxServer(rate_limits="off", recorder=recorder) as server:
        server.store.options.auto_create_tags = True
        server.load_persons([{"externalId": "p1", "tags": ["VIP"], "customAttributes": {"Tier": "gold"}}])
        server.store.create_company({"name": "Acme", "domains": ["acme.com"]})
        served = {route.endpoint for route in server.api.routes}
        operations = [result.ok() for result in schema.get_all_operations()]
        operations = [op for op in operations if f"{op.method.upper()} {op.path}" in served]
        assert len(operations) == len(served)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for operation in operations:
                _schemathesis_run(server, operation, mode, failures, statuses)
        failures += _existing_deletes(schema, server)
    assert failures == []
    assert len(statuses) >= 2 * len(operations)
    assert {200, 400, 404} <= set(statuses)
    assert Conformance(SPEC).check_all(recorder.entries) == []
