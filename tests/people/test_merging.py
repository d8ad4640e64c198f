import threading

import pytest
from django.db import connection

from core.errors import Conflict, ValidationError
from identities.models import Identity
from infobip.models import OutboxEntry
from people import selectors
from people.merging import default_survivor, merge_plan, persons_merge
from people.models import MergeRecord, Person, PersonEvent
from tests.identities.factories import IdentityFactory
from tests.people.factories import ChannelProfileFactory, PersonEventFactory, aged_person

pytestmark = pytest.mark.django_db


person = aged_person


def test_default_survivor_is_the_earliest_created(realm):
    old = person(realm, days_old=10)
    new = person(realm, days_old=1)
    assert default_survivor([new, old]) == old


def test_most_recently_modified_value_wins_between_same_types_and_one_sided_fields_are_added(realm):
    old = person(realm, days_old=10, modified_days_ago=5, first_name="Jon", city="Zagreb", phones=["385991111111"])
    new = person(realm, days_old=1, modified_days_ago=1, first_name="John", address="Ilica 1", emails=["j@x.hr"])
    plan = merge_plan(survivor=old, others=[new])
    decisions = {d.field: d for d in plan.fields}
    assert decisions["first_name"].conflict
    assert decisions["first_name"].value == "John"
    assert not decisions["city"].conflict
    assert decisions["city"].value == "Zagreb"
    assert not decisions["address"].conflict
    assert decisions["address"].value == "Ilica 1"
    assert "address" in {d.field for d in plan.single_source}


def test_customer_value_beats_a_more_recent_lead_value(realm):
    customer = person(
        realm, days_old=10, modified_days_ago=9, type="CUSTOMER", last_name="Doe", phones=["385991111111"]
    )
    lead = person(realm, days_old=2, modified_days_ago=0, type="LEAD", last_name="Do", phones=["385992222222"])
    record = persons_merge(survivor=default_survivor([lead, customer]), others=[lead])
    survivor = Person.objects.get(pk=record.survivor_id)
    assert survivor.pk == customer.pk
    assert (survivor.type, survivor.last_name) == ("CUSTOMER", "Doe")


def test_custom_attributes_merge_per_attribute(realm):
    a = person(
        realm,
        days_old=5,
        modified_days_ago=3,
        custom_attributes={"Store": "Zagreb", "Points": 1},
        phones=["385991111111"],
    )
    b = person(realm, days_old=1, modified_days_ago=1, custom_attributes={"Points": 7, "Tier": "Gold"})
    record = persons_merge(survivor=a, others=[b])
    a.refresh_from_db()
    assert a.custom_attributes == {"Store": "Zagreb", "Points": 7, "Tier": "Gold"}
    assert record.choices["customAttributes"]["Points"] == b.pk


def test_contacts_and_tags_are_combined_and_events_identities_channel_profiles_move(realm, cdp_realm):
    a = person(realm, days_old=5, phones=["385991111111"], emails=["a@x.hr"], tags=["VIP"])
    b = person(realm, days_old=1, phones=["385992222222"], emails=["b@x.hr"], tags=["New"])
    event = PersonEventFactory(person=b)
    profile = ChannelProfileFactory(person=b)
    identity = IdentityFactory(realm=realm, person=b)
    persons_merge(survivor=a, others=[b])
    a.refresh_from_db()
    b.refresh_from_db()
    assert sorted(a.phones.values_list("number", flat=True)) == ["385991111111", "385992222222"]
    assert sorted(a.emails.values_list("address", flat=True)) == ["a@x.hr", "b@x.hr"]
    assert sorted(a.tags.values_list("name", flat=True)) == ["New", "VIP"]
    assert PersonEvent.objects.get(pk=event.pk).person_id == a.pk
    assert profile.__class__.objects.get(pk=profile.pk).person_id == a.pk
    assert Identity.objects.get(pk=identity.pk).person_id == a.pk
    assert b.merged_into_id == a.pk
    assert b.phones.count() == 0
    assert not Person.objects.active().filter(pk=b.pk).exists()


def test_absorbed_ids_and_external_ids_resolve_to_the_survivor(realm):
    a = person(realm, days_old=5, external_id="A-1", phones=["385991111111"])
    b = person(realm, days_old=1, external_id="B-2", emails=["b@x.hr"])
    persons_merge(survivor=a, others=[b], choices={"external_id": b.pk})
    a.refresh_from_db()
    assert a.external_id == "B-2"
    assert selectors.person_resolve(realm, b.pk) == a
    assert Person.objects.get(pk=b.pk).external_id is None


def test_refuses_when_no_contact_is_kept(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, emails=["b@x.hr"])
    with pytest.raises(ValidationError, match="at least one phone or email"):
        persons_merge(survivor=a, others=[b], keep_phones=[], keep_emails=[])
    assert Person.objects.active().count() == 2
    assert MergeRecord.objects.count() == 0


def test_unchecked_contacts_are_dropped(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"], emails=["b@x.hr"])
    persons_merge(survivor=a, others=[b], keep_phones=["385992222222"])
    assert list(a.phones.values_list("number", flat=True)) == ["385992222222"]
    assert list(a.emails.values_list("address", flat=True)) == ["b@x.hr"]


def test_merge_of_ten_and_limit(realm):
    people = [person(realm, days_old=20 - i, phones=[f"3859900000{i:02d}"]) for i in range(11)]
    with pytest.raises(ValidationError, match="at most 10"):
        persons_merge(survivor=people[0], others=people[1:])
    record = persons_merge(survivor=people[0], others=people[1:10])
    assert len(record.absorbed_ids) == 9
    assert people[0].phones.count() == 10


def test_a_person_cannot_be_merged_twice(realm):
    a, b, c = (person(realm, days_old=d, phones=[f"38599111111{d}"]) for d in (3, 2, 1))
    persons_merge(survivor=a, others=[b])
    with pytest.raises(Conflict, match="already merged"):
        persons_merge(survivor=c, others=[b])


def test_dry_run_changes_nothing(realm):
    a = person(realm, days_old=5, modified_days_ago=3, first_name="A", phones=["385991111111"])
    b = person(realm, days_old=1, first_name="B", emails=["b@x.hr"])
    record = persons_merge(survivor=a, others=[b], dry_run=True)
    assert record.pk is None
    assert record.result["attributes"]["first_name"] == "B"
    assert Person.objects.active().count() == 2
    assert a.emails.count() == 0


def test_merge_writes_an_outbox_row_and_keeps_snapshots(cdp_realm):
    a = person(cdp_realm, days_old=5, phones=["385991111111"])
    b = person(cdp_realm, days_old=1, emails=["b@x.hr"])
    record = persons_merge(survivor=a, others=[b], actor="staff:alice")
    entry = OutboxEntry.objects.get(entity="merge")
    assert entry.payload["survivor"] == a.pk
    assert entry.payload["absorbed"][0]["emails"] == ["b@x.hr"]
    assert [s["id"] for s in record.snapshots] == [a.pk, b.pk]
    assert record.snapshots[1]["emails"] == ["b@x.hr"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_merges_one_wins_the_other_gets_a_clear_error(realm):
    a, b, c = (person(realm, days_old=d, phones=[f"38599111111{d}"]) for d in (3, 2, 1))
    results = {}
    barrier = threading.Barrier(2)

    def run(name, survivor, others):
        barrier.wait()
        try:
            results[name] = persons_merge(survivor=survivor, others=others)
        except Conflict as exc:
            results[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("ab", a, [b])), threading.Thread(target=run, args=("cb", c, [b]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["Conflict", "MergeRecord"]
    assert MergeRecord.objects.count() == 1
    b.refresh_from_db()
    winner = next(r for r in results.values() if isinstance(r, MergeRecord))
    assert b.merged_into_id == winner.survivor_id
    loser_survivor = c if winner.survivor_id == a.pk else a
    assert Person.objects.get(pk=loser_survivor.pk).phones.count() == 1  # untouched
