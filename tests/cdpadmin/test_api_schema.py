"""The OpenAPI document: served, valid, with the seed's examples, Swagger UI offline; and schemathesis run
against our own schema inside the suite (no 5xx, every response conforming)."""

import json
import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cdpadmin.wsgi import application
from core.api import examples as ex
from tests.api_support import openapi_document
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, EventDefinitionFactory, PersonFactory

EXAMPLES_PER_OPERATION = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_schema_is_served_and_lists_every_endpoint(anon):
    response = anon.get("/v1/schema/?format=json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1")
    assert len(document["paths"]) == 46
    assert not any(path.startswith("/v1/identitites") for path in document["paths"])
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "x-api-key",
        "description": "Your API key. `Authorization: Bearer <key>` is accepted too.",
    }  # fmt: skip


def test_the_seeds_examples_are_in_the_schema():
    document = json.dumps(openapi_document())
    for example in (ex.CREATE_PERSON_IDENTITY_REQUEST, ex.SYNC_RESPONSE, ex.EVENT_REQUEST, ex.CREATE_COMPANY_REQUEST,
                    ex.COMPANY_ASSIGNED_RESPONSE, ex.UPDATE_PERSON_RESPONSE):  # fmt: skip
        assert json.dumps(example)[:-1] in document


def test_swagger_ui_is_served_with_our_own_assets(anon):
    response = anon.get("/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # No third-party asset: every src/href is our own (a random nonce or CSRF token may contain "cdn").
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    assert "cdn.jsdelivr" not in html.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


@pytest.fixture
def wsgi_calls():
    """Django's test client stops requests from closing the test's connection; do the same for raw WSGI calls."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(mode, realm, api_key, wsgi_calls):
    person = PersonFactory(realm=realm, emails=["a@example.com"])
    IdentityFactory(realm=realm, person=person)
    CustomAttributeDefinitionFactory(realm=realm, name="Tier", data_type="STRING")
    EventDefinitionFactory(realm=realm, definition_id="addToCart")
    schema = schemathesis.openapi.from_wsgi("/v1/schema/?format=json", application)
    failures, statuses = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 69

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def run(case):
            case.headers = {**(case.headers or {}), "x-api-key": api_key.plain}
            response = case.call()
            statuses.append(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # collected, so one run reports every failing operation
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:300]}")

        run()
    assert failures == []
    assert len(statuses) >= 2 * len(operations)
    assert all(status < 500 for status in statuses)
    print(mode, len(statuses), sorted(set(statuses)))
