"""POST /v1/identities/persons/merge, its undo, and GET of a person (an absorbed id answers with the survivor)."""

import pytest

from core.api import examples as ex
from identities.models import Identity
from people.merging import MSG_NO_CONTACT
from people.models import MergeRecord, Person
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, aged_person

MERGE = "/v1/identities/persons/merge"


@pytest.fixture
def pair(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Tier", data_type="STRING")
    old = aged_person(
        realm, days_old=10, modified_days_ago=5, first_name="Jon", last_name="Smith", city="Zagreb",
        phones=["385991111111"], emails=["jon@example.com"], tags=["VIP"], custom_attributes={"Tier": "gold"},
    )  # fmt: skip
    new = aged_person(
        realm, days_old=1, modified_days_ago=1, first_name="John", last_name="Smith", address="Ilica 1",
        emails=["john@example.com"], tags=["Newsletter"], custom_attributes={"Tier": "silver"},
    )  # fmt: skip
    identity = IdentityFactory(realm=realm, person=new)
    return old, new, identity


def merge(api, old, new, **body):
    return api.post(MERGE, {"survivor": old.pk, "others": [new.pk], **body}, format="json")


def test_dry_run_answers_the_would_be_survivor_and_changes_nothing(api, pair):
    old, new, identity = pair
    response = merge(api, old, new, dryRun=True)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dryRun"] is True
    assert body["mergeRecord"] is None
    assert body["absorbed"] == [new.pk]
    survivor = body["survivor"]
    assert survivor["id"] == old.pk
    assert survivor["firstName"] == "John"  # the most recently modified value wins by default
    assert survivor["city"] == "Zagreb"
    assert survivor["address"] == "Ilica 1"  # set in one profile only: taken
    assert survivor["tags"] == ["Newsletter", "VIP"]
    assert [e["address"] for e in survivor["contactInformation"]["email"]] == ["jon@example.com", "john@example.com"]
    assert body["choices"]["firstName"] == new.pk
    assert not MergeRecord.objects.exists()
    assert Person.objects.get(pk=new.pk).merged_into_id is None
    assert Person.objects.get(pk=old.pk).first_name == "Jon"
    assert Identity.objects.get(pk=identity.pk).person_id == new.pk


def test_merge_moves_everything_to_the_survivor_and_records_it(api, api_key, pair):
    old, new, identity = pair
    response = merge(api, old, new)
    assert response.status_code == 200, response.json()
    body = response.json()
    record = MergeRecord.objects.get()
    assert body["mergeRecord"] == record.pk
    assert body["dryRun"] is False
    assert record.source == "api"
    assert record.actor == f"api-key:{api_key.prefix}"
    assert record.absorbed_ids == [new.pk]
    assert Person.objects.get(pk=new.pk).merged_into_id == old.pk
    assert Identity.objects.get(pk=identity.pk).person_id == old.pk
    assert body["survivor"]["firstName"] == "John"
    assert body["kept"] == {"phones": ["385991111111"], "emails": ["jon@example.com", "john@example.com"],
                            "tags": ["VIP", "Newsletter"]}  # fmt: skip


def test_choices_use_the_apis_names(api, pair):
    old, new, _ = pair
    response = merge(api, old, new, choices={"firstName": old.pk, "customAttributes.Tier": new.pk})
    assert response.status_code == 200, response.json()
    survivor = response.json()["survivor"]
    assert survivor["firstName"] == "Jon"
    assert survivor["customAttributes"] == {"Tier": "silver"}
    assert response.json()["choices"]["firstName"] == old.pk
    assert response.json()["choices"]["customAttributes.Tier"] == new.pk


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"firstName": 10**9}, "choices.firstName"),
        ({"nickname": 1}, "choices.nickname"),
        ({"customAttributes.Unknown": 1}, "choices.customAttributes.Unknown"),
    ],
)
def test_a_bad_choice_is_a_400_naming_it(api, pair, choices, field):
    old, new, _ = pair
    if "Unknown" in field:
        choices = {field.removeprefix("choices."): new.pk}
    response = merge(api, old, new, choices=choices)
    assert response.status_code == 400, response.json()
    assert field in response.json()["data"]["fields"]
    assert not MergeRecord.objects.exists()


def test_keeping_no_contact_is_a_400_with_a_clear_message(api, pair):
    old, new, _ = pair
    response = merge(api, old, new, keep={"phones": [], "emails": []})
    assert response.status_code == 400
    body = response.json()
    assert body["data"]["fields"] == {"keep": [MSG_NO_CONTACT]}
    assert MSG_NO_CONTACT in body["message"]
    assert not MergeRecord.objects.exists()


def test_keep_keeps_only_those(api, pair):
    old, new, _ = pair
    response = merge(api, old, new, keep={"emails": ["john@example.com"], "phones": [], "tags": ["VIP"]})
    assert response.status_code == 200, response.json()
    info = response.json()["survivor"]["contactInformation"]
    assert info["phone"] == []
    assert info["email"] == [{"address": "john@example.com"}]
    assert response.json()["survivor"]["tags"] == ["VIP"]


@pytest.mark.parametrize(
    "body",
    [
        {"others": [1]},
        {"survivor": 1},
        {"survivor": 1, "others": []},
        {"survivor": 1, "others": ["x"]},
        {"survivor": 1, "others": [2], "dryRun": "yes"},
        {"survivor": 1, "others": [2], "keep": {"phones": "385991111111"}},
        {"survivor": 1, "others": [2], "unknown": True},
        {"survivor": 1, "others": list(range(2, 12))},
    ],
)
def test_malformed_bodies_are_400(api, body):
    assert api.post(MERGE, body, format="json").status_code == 400


def test_other_realms_persons_are_unknown_ids(api, other_api, pair, other_realm):
    old, new, _ = pair
    stranger = aged_person(other_realm, days_old=3, emails=["s@example.com"])
    response = api.post(MERGE, {"survivor": old.pk, "others": [stranger.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["data"]["fields"] == {"others[0]": [f"person {stranger.pk} does not exist"]}
    assert other_api.post(MERGE, {"survivor": stranger.pk, "others": [new.pk]}, format="json").status_code == 400
    assert other_api.get(f"/v1/identities/persons/{old.pk}").status_code == 404
    assert merge(api, old, new).status_code == 200
    record = MergeRecord.objects.get()
    assert other_api.post(f"{MERGE}/{record.pk}/undo").status_code == 404
    assert other_api.get(f"/v1/identities/persons/{new.pk}").status_code == 404
    assert not Person.objects.filter(pk=stranger.pk, merged_into__isnull=False).exists()


def test_an_idempotent_replay_merges_once(api, pair):
    old, new, _ = pair
    first = api.post(MERGE, {"survivor": old.pk, "others": [new.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    again = api.post(MERGE, {"survivor": old.pk, "others": [new.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert MergeRecord.objects.count() == 1
    other = api.post(MERGE, {"survivor": old.pk, "others": [new.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="m-2")
    assert other.status_code == 409  # without the key's protection: already merged


def test_get_of_an_absorbed_person_answers_with_the_survivor_and_says_so(api, pair):
    old, new, identity = pair
    assert merge(api, old, new).status_code == 200
    response = api.get(f"/v1/identities/persons/{new.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == old.pk
    assert body["mergedFrom"] == new.pk
    assert response.headers["Content-Location"] == f"/v1/identities/persons/{old.pk}"
    plain = api.get(f"/v1/identities/persons/{old.pk}")
    assert "mergedFrom" not in plain.json()
    assert "Content-Location" not in plain.headers
    assert {k: v for k, v in body.items() if k != "mergedFrom"} == plain.json()
    # The identity of the absorbed person now names the survivor.
    assert api.get(f"/v1/identities/{identity.pk}/person").json()["person"]["id"] == old.pk
    assert api.get("/v1/identities/persons/999999999").status_code == 404


def test_undo_restores_and_a_second_undo_is_a_409_with_the_blockers(api, pair):
    old, new, identity = pair
    record_id = merge(api, old, new).json()["mergeRecord"]
    response = api.post(f"{MERGE}/{record_id}/undo")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["survivor"]["firstName"] == "Jon"
    assert [p["id"] for p in body["restored"]] == [new.pk]
    assert body["restored"][0]["contactInformation"]["email"] == [{"address": "john@example.com"}]
    assert Person.objects.get(pk=new.pk).merged_into_id is None
    assert Identity.objects.get(pk=identity.pk).person_id == new.pk
    again = api.post(f"{MERGE}/{record_id}/undo")
    assert again.status_code == 409
    assert again.json()["data"]["blockers"]
    assert api.post(f"{MERGE}/999999/undo").status_code == 404


def test_merging_an_absorbed_person_again_is_a_409(api, pair, realm):
    old, new, _ = pair
    third = aged_person(realm, days_old=20, emails=["third@example.com"])
    assert merge(api, old, new).status_code == 200
    response = api.post(MERGE, {"survivor": third.pk, "others": [new.pk]}, format="json")
    assert response.status_code == 409
    assert "already merged" in response.json()["message"]


def test_the_schema_documents_the_merge_examples():
    from tests.api_support import openapi_document

    operation = openapi_document()["paths"]["/v1/identities/persons/merge"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert ex.MERGE_REQUEST in [example["value"] for example in examples.values()]
