"""A bounded, derandomized hypothesis fuzz of our own OpenAPI document with hostile input (issue 15, item 5).

schemathesis (tests/cdpadmin/test_api_schema.py) generates from the schemas, and never a lone surrogate. Here,
for every JSON write operation of `/v1/schema/`, the operation's documented request example has one value or
key replaced by something hostile (lone surrogates, NUL, ESC/BEL, bidi marks, 5,000 characters, huge numbers,
wrong types), and every list operation gets hostile query parameters (a `filter` with escaped surrogates
among them). Nothing may answer 5xx; every error is our envelope.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from people.models import Segment
from tests.api_support import openapi_document
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, EventDefinitionFactory, PersonFactory, TagFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 20
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
CONTROLS = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u200b", "\ufeff", "\n", "\t"])
CHARACTERS = st.one_of(st.characters(), SURROGATES, CONTROLS)
HOSTILE_STRINGS = st.one_of(
    st.sampled_from(
        ["", " ", "x" * 5000, "Jurić 😀", "\ud800", "a\udfffb", "\x1b[31m", "' OR 1=1 --", "{{7*7}}", "%00"]
    ),
    st.text(CHARACTERS, max_size=12),
)
# Half the draws come from the list of known attacks, so a bounded run meets each of them on many fields.
KNOWN_ATTACKS = st.sampled_from(["\ud800", "a\udfffb", "\x00", "A\x1bB", "\x07", "x" * 5000, 2**70, -1, [1], {"a": 1}])
HOSTILE_VALUES = st.one_of(
    KNOWN_ATTACKS,
    st.one_of(
        HOSTILE_STRINGS,
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    ),
)
FILTERS = st.one_of(
    HOSTILE_STRINGS.filter(lambda text: not re.search("[\ud800-\udfff]", text)),
    st.sampled_from(
        [
            '{"firstName": "\\ud800"}',
            '{"#contains": {"tags": "\\udfff"}}',
            '{"\\ud800": 1}',
            '{"firstName": {"#startsWith": "\\u0000"}}',
            '{"#and": [{"firstName": "Ana"}, {"#or": []}]}',
            '{"customAttributes.Tier": {"#gt": 1e400}}',
            '{"birthDate": {"#lt": "2026-02-30"}}',
            "[" * 200,
        ]
    ),
)
QUERY_VALUES = HOSTILE_STRINGS.filter(lambda text: not re.search("[\ud800-\udfff]", text))


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every value (and, marked with a trailing None, every key) of a JSON document."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*path, key, None))
            found += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(item, (*path, index))
    return found


def _replace(document: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    if len(path) >= 2 and path[-1] is None:  # rename the key path[-2]
        parent = document
        for step in path[:-2]:
            parent = parent[step]
        key = path[-2]
        parent[str(new) if not isinstance(new, str) else new] = parent.pop(key)
        return document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return document


def _operations(kind: str) -> list[tuple[str, str, dict]]:
    found = []
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if kind == "write" and "application/json" in content:
                examples = content["application/json"].get("examples", {})
                example = next(iter(examples.values()), {}).get("value", {}) if examples else {}
                found.append((method.upper(), path, example))
            elif (
                kind == "list"
                and method == "get"
                and any(p["name"] == "limit" for p in operation.get("parameters", []))
            ):
                found.append(("GET", path, {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}))
    return found


@pytest.fixture
def world(realm):
    person = PersonFactory(realm=realm, emails=["a@example.com"], tags=["VIP"])
    identity = IdentityFactory(realm=realm, person=person)
    company = CompanyFactory(realm=realm)
    CustomAttributeDefinitionFactory(realm=realm, name="Tier", data_type="STRING")
    EventDefinitionFactory(realm=realm, definition_id="addToCart")
    TagFactory(realm=realm, name="Fair")
    segment = Segment.objects.create(realm=realm, name="VIPs", filter='{"#contains": {"tags": "VIP"}}')
    return {
        "identity_id": identity.pk, "person_id": person.pk, "company_id": company.pk,
        "definition_id": "addToCart", "name": "Tier", "segment_id": segment.pk,
        "kind": "email", "value": "a@example.com",
    }  # fmt: skip


def _check(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"
    if response.status_code >= 400:
        body = response.json()
        assert {"name", "message", "code", "type", "data"} <= set(body), what
        assert body["code"] == response.status_code, what


def _fill(path: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: str(ids[match.group(1)]), path)


BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip


def _body_fuzz(api, ids: dict, method: str, path: str, example: Any):
    @BOUNDED
    @given(where=st.sampled_from(_leaves(example)), value=HOSTILE_VALUES)
    def run(where, value):
        body = _replace(json.loads(json.dumps(example)), where, value)
        response = api.generic(method, _fill(path, ids), json.dumps(body), content_type="application/json")
        _check(response, f"{method} {path} {where}={value!r:.60}")

    return run


def _query_fuzz(api, ids: dict, path: str, names: list[str]):
    @BOUNDED
    @given(name=st.sampled_from(names), value=QUERY_VALUES, filter_=FILTERS)
    def run(name, value, filter_):
        query = {name: value}
        if "filter" in names:
            query["filter"] = filter_
        _check(api.get(_fill(path, ids), query), f"GET {path} {query!r:.80}")

    return run


def test_hostile_bodies_on_every_json_write_operation_never_5xx(api, world):
    operations = _operations("write")
    assert len(operations) == 26
    for method, path, example in operations:
        _body_fuzz(api, world, method, path, example)()


def test_hostile_query_parameters_on_every_list_operation_never_5xx(api, world):
    operations = _operations("list")
    assert len(operations) == 11
    for _method, path, parameters in operations:
        _query_fuzz(api, world, path, sorted(parameters))()
