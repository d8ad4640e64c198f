"""The person's write contract exists once: the request examples of the generated OpenAPI document are accepted
as they are, and the fields it documents are exactly the fields the parser reads."""

import pytest

from core.errors import ValidationError
from identities.models import Identity
from people.serializers import PersonWriteSerializer
from tests.api_support import openapi_document
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.test_api import definitions, jane, seed_identity  # noqa: F401 - fixtures

PERSON_WRITES = [
    ("post", "/v1/identities/person", 201),
    ("post", "/v1/identities/{identity_id}/person", 201),
    ("patch", "/v1/identities/{identity_id}/person", 200),
]


def request_examples(method: str, template: str) -> list[dict]:
    operation = openapi_document()["paths"][template][method]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert examples, f"{method.upper()} {template} documents no request example"
    return [example["value"] for example in examples.values()]


def resolved(schema: dict) -> dict:
    """The component a `$ref` names (drf-spectacular may wrap it in allOf), or the schema itself."""
    if "allOf" in schema:
        schema = schema["allOf"][0]
    if "$ref" in schema:
        return openapi_document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def documented_person_write() -> dict:
    """The person body POST /v1/identities/{id}/person documents (the same serializer as PATCH and the nested
    `person` of POST /v1/identities/person)."""
    operation = openapi_document()["paths"]["/v1/identities/{identity_id}/person"]["post"]
    return resolved(operation["requestBody"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize(("method", "template", "status"), PERSON_WRITES)
def test_the_documented_request_examples_are_accepted(api, realm, definitions, seed_identity, method, template,  # noqa: F811
                                                      status):  # fmt: skip
    CompanyFactory(id=3, realm=realm)  # the examples link company 3
    if method == "patch":
        Identity.objects.filter(pk=seed_identity.pk).update(person=None)
        api.post(f"/v1/identities/{seed_identity.pk}/person", {"firstName": "Before"}, format="json")
    for index, body in enumerate(request_examples(method, template)):
        identity = seed_identity if method == "patch" else IdentityFactory(realm=realm)
        path = template.format(identity_id=identity.pk)
        response = getattr(api, method)(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"contract-{index}")
        assert response.status_code == status, response.json()


def value_of_shape(schema: dict):
    kind = resolved(schema).get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    return {"array": [], "object": {}}.get(kind, "x")


def test_every_documented_person_field_is_read_and_no_other():
    documented = documented_person_write()["properties"]
    assert {"firstName", "tags", "customAttributes", "contactInformation"} <= set(documented)
    for name, schema in documented.items():
        # raises on a field it does not read (the company lookup is the caller's: companies sit above people)
        PersonWriteSerializer.parse({name: value_of_shape(schema)}, company_of=lambda value, errors, field: None)
    with pytest.raises(ValidationError) as refused:
        PersonWriteSerializer.parse({"nickname": "x"})
    assert refused.value.fields == {"nickname": ["is not a person field"]}


def test_every_documented_contact_channel_is_read_and_no_other():
    documented = resolved(documented_person_write()["properties"]["contactInformation"])["properties"]
    assert {"phone", "email", "push", "whatsapp"} <= set(documented)
    args = PersonWriteSerializer.parse({"contactInformation": {channel: [] for channel in documented}})
    assert set(args.get("channel_profiles", {})) == set(documented) - {"phone", "email"}
    with pytest.raises(ValidationError) as refused:
        PersonWriteSerializer.parse({"contactInformation": {"pager": []}})
    assert refused.value.fields == {"contactInformation.pager": ["is not a contact information channel"]}
