"""Infobip's nickName standard attribute on every entry point, and the name rule (& < > " / \\ : ( ) { } = ; #
and line breaks refused in first, middle, last and nick names) on create and edit, naming field and character."""

import pytest
from django.urls import reverse

from core.errors import ValidationError
from imports.models import ImportIssue
from people import services
from people.merging import persons_merge
from people.models import Person
from people.representation import person_standard_attributes
from tests.identities.factories import IdentityFactory
from tests.imports.helpers import csv_bytes, import_file
from tests.infobip.conftest import drain_all, push_settings  # noqa: F401 (a fixture)
from tests.people.factories import PersonFactory
from tests.people.test_admin import person_post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("char", [*'&<>"/\\:(){}=;#', "\n", "\r"])
@pytest.mark.parametrize("field", ["first_name", "middle_name", "last_name", "nick_name"])
def test_every_name_field_refuses_every_forbidden_character_on_create_and_edit(realm, field, char):
    api_name = {"first_name": "firstName", "middle_name": "middleName", "last_name": "lastName"}.get(field, "nickName")
    with pytest.raises(ValidationError) as created:
        services.person_create(realm=realm, attributes={field: f"Ja{char}ne"}, emails=["j@example.com"])
    assert list(created.value.fields) == [api_name]
    described = {"\n": "line break", "\r": "carriage return"}.get(char, repr(char))
    assert described in created.value.fields[api_name][0]
    person = PersonFactory(realm=realm)
    with pytest.raises(ValidationError) as edited:
        services.person_update(person=person, attributes={field: f"Ja{char}ne"})
    assert list(edited.value.fields) == [api_name]


def test_api_writes_and_reads_the_nickname_and_refuses_a_bad_one(api, realm):
    created = api.post("/v1/identities/person", {"person": {"nickName": "Janey"}}, format="json")
    assert created.status_code == 201
    assert created.json()["person"]["nickName"] == "Janey"
    identity_id = created.json()["id"]
    refused = api.patch(f"/v1/identities/{identity_id}/person", {"nickName": "Ja;ney"}, format="json")
    assert refused.status_code == 400
    assert "nickName" in str(refused.json())
    assert "';'" in str(refused.json())
    too_long = api.patch(f"/v1/identities/{identity_id}/person", {"nickName": "x" * 51}, format="json")
    assert too_long.status_code == 400
    listed = api.get("/v1/identities/persons").json()["persons"]
    assert [p["nickName"] for p in listed] == ["Janey"]


def test_admin_form_saves_a_nickname_and_shows_a_forbidden_one(admin_client, realm):
    add = reverse("admin:people_person_add") + f"?realm={realm.pk}"
    refused = admin_client.post(add, person_post(realm, nick_name="Ja{ne}"))
    assert refused.status_code == 200
    assert "contains the forbidden character &#x27;{&#x27;" in refused.content.decode()
    assert Person.objects.count() == 0
    saved = admin_client.post(add, person_post(realm, nick_name="Janey"))
    assert saved.status_code == 302
    assert Person.objects.get().nick_name == "Janey"


def test_import_maps_a_nickname_column_and_refuses_a_bad_one(realm):
    rows = [["Email", "Nickname"], ["a@example.com", "Annie"], ["b@example.com", "B=b"]]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    assert Person.objects.get().nick_name == "Annie"
    issues = set(ImportIssue.objects.filter(job=job).values_list("row", "column", "reason"))
    assert (3, "Nickname", "contains the forbidden character '='") in issues


def test_merge_fills_the_nickname_from_the_other_profile(realm):
    survivor = PersonFactory(realm=realm, emails=["s@example.com"])
    other = PersonFactory(realm=realm, emails=["o@example.com"], nick_name="Kiki")
    persons_merge(survivor=survivor, others=[other])
    survivor.refresh_from_db()
    assert survivor.nick_name == "Kiki"


def test_the_nickname_is_pushed_to_infobip(cdp_realm, push_settings, infobip_sandbox):  # noqa: F811
    person = services.person_create(
        realm=cdp_realm, attributes={"first_name": "Jane", "nick_name": "Janey"}, emails=["jn@example.com"]
    )
    assert person_standard_attributes(person)["nickName"] == "Janey"
    drain_all()
    person.refresh_from_db()
    assert infobip_sandbox.store.persons.get(person.infobip_id)["nickName"] == "Janey"
    services.person_update(person=person, attributes={"nick_name": "Jay"})
    drain_all()
    assert infobip_sandbox.store.persons.get(person.infobip_id)["nickName"] == "Jay"


def test_identity_factory_person_keeps_an_empty_nickname(realm):
    person = PersonFactory(realm=realm)
    IdentityFactory(realm=realm, person=person)
    assert Person.objects.get(pk=person.pk).nick_name == ""
