"""Hostile bodies and parameters are 400s (or a 413) naming the field, never a 500 (issue 15, item 5)."""

import json

import pytest

from people.models import Person, Tag
from tests.identities.factories import IdentityFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

EMAIL = {"email": [{"address": "ana@example.com"}]}


def _post(api, path, body, **headers):
    return api.generic("POST", path, json.dumps(body), content_type="application/json", **headers)


def _fields(response) -> dict:
    assert response.status_code == 400, response.content[:300]
    return response.json()["data"]["fields"]


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "big-body-1"}])
def test_a_body_over_the_limit_is_a_413_in_our_error_shape(api, settings, headers):
    response = _post(api, "/v1/identities/person", {"blob": "x" * (settings.API_MAX_BODY_BYTES + 10)}, **headers)
    body = response.json()
    assert (response.status_code, body["name"], body["type"], body["code"]) == (
        413, "PayloadTooLarge", "payload_too_large", 413,
    )  # fmt: skip
    assert f"{settings.API_MAX_BODY_BYTES:,} bytes" in body["message"]


def test_a_body_just_under_the_limit_is_read(api, settings):
    settings.API_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    assert "person" in _fields(_post(api, "/v1/identities/person", {"x": "y" * 150}))


@pytest.mark.parametrize("name", [5, True, [1], {"a": 1}, None])
def test_a_custom_attribute_name_that_is_not_a_string_is_a_400(api, name):
    fields = _fields(_post(api, "/v1/identities/customAttributes", {"name": name, "dataType": "STRING"}))
    assert list(fields) == ["name"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/identities/person", {"person": {"firstName": "\ud800", "contactInformation": EMAIL}}, "person.firstName"),
        ("/v1/identities/person", {"person": {"lastName": "A\udfffB", "contactInformation": EMAIL}}, "person.lastName"),
        (
            "/v1/identities/person",
            {"person": {"firstName": "Ana", "tags": ["ok", "\ud800"], "contactInformation": EMAIL}},
            "person.tags[1]",
        ),
        ("/v1/identities/person", {"alias": "\ud800", "person": {"contactInformation": EMAIL}}, "alias"),
        ("/v1/identities/tags", {"name": "\ud800"}, "name"),
        ("/v1/identities/customAttributes", {"name": "\ud800", "dataType": "STRING"}, "name"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(api, path, body, field):
    fields = _fields(_post(api, path, body))
    assert field in fields, fields
    assert "lone surrogate (\\ud800)" in fields[field][0] or "lone surrogate (\\udfff)" in fields[field][0]
    assert not Person.objects.exists()
    assert not Tag.objects.exists()


def test_a_lone_surrogate_in_a_key_is_named_without_it(api):
    fields = _fields(_post(api, "/v1/identities/person", {"person": {"a\ud800": 1}}))
    assert list(fields) == ["person.a\ufffd"]


def test_an_emoji_is_not_a_lone_surrogate(api):
    response = _post(api, "/v1/identities/person", {"person": {"firstName": "Ana 😀", "contactInformation": EMAIL}})
    assert response.status_code == 201, response.json()
    assert Person.objects.get().first_name == "Ana 😀"


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x00", "\x7f", "\x85"])
def test_control_characters_in_a_name_are_refused(api, char):
    body = {"person": {"firstName": f"A{char}B", "contactInformation": EMAIL}}
    fields = _fields(_post(api, "/v1/identities/person", body))
    assert list(fields) == ["person.firstName"], fields


@pytest.mark.parametrize(
    "raw",
    [
        '{"firstName": "\\ud800"}',
        '{"firstName": {"#contains": "\\ud800"}}',
        '{"tags": {"#contains": "\\udc00"}}',
        '{"\\ud800": 1}',
        '{"firstName": "Jurić €"}',
        '{"firstName": {"#contains": "\u202e\u200b"}}',
        "ž\u202e",
        '{"ž": 1}',
        '{"firstName": "\U0001f600"}',
    ],
)
@pytest.mark.parametrize("path", ["/v1/identities/persons", "/v1/identities/companies"])
def test_a_unicode_filter_is_never_a_500(api, path, raw):
    response = api.get(path, {"filter": raw})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert list(response.json()["data"]["fields"]) == ["filter"]
    if "\\ud800" in raw or "\\udc00" in raw:
        assert "lone surrogate" in response.json()["message"]


# ------------------------------------------------------------------------------------------- caps (item 7)


def test_a_person_with_more_than_100_tags_is_refused_and_no_tag_is_made(api):
    body = {"person": {"firstName": "Ana", "tags": [f"t{n}" for n in range(101)], "contactInformation": EMAIL}}
    fields = _fields(_post(api, "/v1/identities/person", body))
    assert any("at most 100" in reason for reasons in fields.values() for reason in reasons), fields
    assert not Tag.objects.exists()


def test_a_patch_cannot_append_past_100_tags(api, realm):
    person = PersonFactory(realm=realm, tags=[f"old{n}" for n in range(90)])
    identity = IdentityFactory(realm=realm, person=person)
    path = f"/v1/identities/{identity.pk}/person"
    response = api.patch(path, {"tags": [f"new{n}" for n in range(11)]}, format="json")
    assert response.status_code == 400, response.json()
    assert "has 101 tags" in response.json()["message"]
    assert person.tags.count() == 90
    fine = api.patch(path, {"tags": [f"new{n}" for n in range(10)]}, format="json")
    assert fine.status_code == 200, fine.json()
    assert person.tags.count() == 100


def test_a_company_with_more_than_100_domains_is_refused(api):
    body = {"name": "Acme", "domains": [f"d{n}.example.com" for n in range(101)]}
    fields = _fields(_post(api, "/v1/identities/company", body))
    assert fields == {"domains": ["has 101 domains; at most 100 per company"]}
    body["domains"] = body["domains"][:100]
    assert _post(api, "/v1/identities/company", body).status_code == 201


def test_identity_data_over_512000_bytes_is_refused(api):
    fields = _fields(_post(api, "/v1/identities", {"type": "neutral", "data": {"blob": "é" * 256_000}}))
    assert list(fields) == ["data"]
    assert "at most 512,000" in fields["data"][0]
    assert _post(api, "/v1/identities", {"type": "neutral", "data": {"blob": "x" * 500_000}}).status_code == 201
