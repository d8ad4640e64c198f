"""people.representation shapes a person three ways — from related managers, from annotated aggregates, and in
SQL for list pages — and all three must write the same JSON, key order included."""

import datetime as dt
import json

import pytest

from companies.models import Company
from core.api.renderers import FastJSONRenderer
from identities.selectors import identity_get
from people.models import Person
from people.representation import person_aggregates, person_as_dict, persons_json
from tests.identities.factories import IdentityFactory
from tests.people.factories import ChannelProfileFactory, PersonFactory


@pytest.fixture
def variety(realm):
    company = Company.objects.create(realm=realm, name="Acme")
    full = PersonFactory(
        realm=realm, first_name="Žana", middle_name="Ă", last_name="Ödön", gender="FEMALE",
        birth_date=dt.date(966, 1, 15), address="67 Farringdon Road", city="London", country="United Kingdom",
        preferred_language="en-GB", profile_picture="https://example.com/p.png", type="LEAD", company=company,
        custom_attributes={"Score": 25.33, "Big": 10**20, "Flag": False, "Cart": [{"name": "Sneakers", "price": 9.5}],
                           "When": "2024-05-01T12:00:00", "Quote": 'he said "hi" \\ ü'},
        phones=["385991234567", "41793026727"], emails=["b@example.com", "a@example.com"],
        tags=["VIP Customers", "Zebra", "alpha", "Ärger", "Beta"],
        sync_status="failed", sync_error="HTTP 500", infobip_id=2**40,
    )  # fmt: skip
    ChannelProfileFactory(person=full, channel="push", identifier="r1", data={"systemData": {"os": "Android"}})
    ChannelProfileFactory(person=full, channel="facebook", identifier="f1", data={"userId": "1", "n": None})
    ChannelProfileFactory(person=full, channel="push", identifier="r0", data={"registrationId": "r0"})
    ChannelProfileFactory(person=full, channel="liveChat", identifier="l1", data={})
    empty = PersonFactory(realm=realm, first_name="", last_name="", external_id=None)
    Person.objects.filter(pk=empty.pk).update(
        created=dt.datetime(2020, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),
        modified=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    return [full.pk, empty.pk]


def from_managers(pk):
    return person_as_dict(Person.objects.get(pk=pk))


def test_sql_json_is_person_as_dict(variety):
    rendered = json.loads(persons_json(variety))
    expected = [from_managers(pk) for pk in variety]
    assert rendered == expected
    assert [list(person) for person in rendered] == [list(person) for person in expected]  # key order too
    assert [list(p["contactInformation"]) for p in rendered] == [["phone", "email", "facebook", "liveChat", "push"],
                                                                   ["phone", "email"]]  # fmt: skip


def test_sql_json_keeps_the_order_of_the_ids_and_skips_unknown_ones(variety):
    assert [p["id"] for p in json.loads(persons_json([variety[1], 10**12, variety[0]]))] == variety[::-1]
    assert persons_json([]) == "[]"


def test_aggregates_give_person_as_dict(variety):
    annotated = Person.objects.annotate(**person_aggregates()).filter(pk__in=variety).order_by("pk")
    assert [person_as_dict(p) for p in annotated] == [from_managers(pk) for pk in sorted(variety)]


def test_identity_with_person_gives_person_as_dict(realm, variety):
    identity = IdentityFactory(realm=realm, person_id=variety[0])
    assert person_as_dict(identity_get(realm, identity.pk, ("person",)).person) == from_managers(variety[0])


def test_the_renderer_writes_the_sql_json_as_it_is(variety):
    text = persons_json(variety)
    from core.api.listing import ListParams, list_envelope_json

    params = ListParams(limit=20, page=1, order_by="id:desc", ordering=("-pk",), include_total=False)
    body = FastJSONRenderer().render(list_envelope_json("persons", text, params, 2))
    assert json.loads(body) == {"persons": json.loads(text), "limit": 20, "page": 1, "orderBy": "id:desc",
                                "totalCount": 2}  # fmt: skip


def test_persons_json_of_a_query_keeps_its_order_and_copes_with_nothing(realm):
    from people.representation import persons_json_of_query

    made = [PersonFactory(realm=realm, last_name=name).pk for name in ("Bo", "Al", "Cy", "Al")]
    ordered = Person.objects.filter(pk__in=made).order_by("last_name", "-pk").values_list("pk", flat=True)
    assert [p["id"] for p in json.loads(persons_json_of_query(ordered[:3]))] == list(ordered[:3])
    assert [p["lastName"] for p in json.loads(persons_json_of_query(ordered[1:]))] == ["Al", "Bo", "Cy"]
    assert persons_json_of_query(Person.objects.filter(pk__in=[]).values_list("pk", flat=True)) == "[]"
    assert persons_json_of_query(ordered.filter(last_name="Nobody")) == "[]"
