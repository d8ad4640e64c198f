"""merge_undo: restores exactly, keeps what changed since, refuses with a reason for each blocker."""

import datetime as dt

import pytest

from core.errors import Conflict
from identities.models import Identity
from infobip.models import OutboxEntry
from people import services
from people.merging import merge_undo, merge_undo_check, person_snapshot, persons_merge
from people.models import ChannelProfile, MergeRecord, Person, PersonEmail, PersonEvent, PersonPhone
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import ChannelProfileFactory, PersonEventFactory, aged_person

pytestmark = pytest.mark.django_db


person = aged_person


def snapshots(*persons):
    return [person_snapshot(Person.objects.get(pk=p.pk)) for p in persons]


@pytest.fixture
def rich_pair(realm):
    """Two profiles holding one of everything a merge touches."""
    company_a = CompanyFactory(realm=realm, name="Acme d.o.o.")
    company_b = CompanyFactory(realm=realm, name="Beta d.o.o.")
    a = person(
        realm, days_old=10, modified_days_ago=5, first_name="Jon", last_name="Smith", city="Zagreb",
        phones=["385991111111", "385991111112"], emails=["jon@x.hr"], tags=["VIP"], company=company_a,
        custom_attributes={"Store": "Zagreb", "Points": 1}, birth_date=dt.date(1980, 5, 1),
    )  # fmt: skip
    b = person(
        realm, days_old=2, modified_days_ago=1, first_name="John", last_name="Smith", type="LEAD",
        address="Ilica 1", phones=["385992222222"], emails=["john@x.hr", "j.smith@x.hr"], tags=["New", "VIP"],
        company=company_b, custom_attributes={"Points": 7, "Tier": "Gold"},
    )  # fmt: skip
    alias = person(
        realm, days_old=30, modified_days_ago=20, first_name="", last_name="", type="LEAD", phones=["385993333333"]
    )
    persons_merge(survivor=b, others=[alias])  # b already absorbed someone: that alias must follow b back
    for n in range(3):
        PersonEventFactory(person=a, event_id=f"a-{n}")
        PersonEventFactory(person=b, event_id=f"b-{n}")
    ChannelProfileFactory(person=a, identifier="reg-a")
    ChannelProfileFactory(person=b, identifier="reg-b1")
    ChannelProfileFactory(person=b, identifier="reg-b2")
    IdentityFactory(realm=realm, person=a)
    IdentityFactory(realm=realm, person=b, company=company_b)
    return a, b, alias


def test_undo_restores_every_profile_exactly(realm, rich_pair):
    a, b, alias = rich_pair
    before = snapshots(a, b, alias)
    dropped_channel = ChannelProfile.objects.get(identifier="reg-b2").pk
    record = persons_merge(
        survivor=a,
        others=[b],
        choices={"first_name": a.pk, "company_id": b.pk},
        keep_phones=["385991111111", "385992222222"],  # a's second phone is dropped
        keep_emails=["john@x.hr"],  # a's email and one of b's are dropped
        keep_tags=["VIP"],
        keep_channel_profiles=[ChannelProfile.objects.get(identifier="reg-a").pk],
    )
    assert Person.objects.get(pk=alias.pk).merged_into_id == a.pk
    assert not ChannelProfile.objects.filter(pk=dropped_channel).exists()

    plan = merge_undo(record=record, actor="staff:alice")

    assert plan.kept == []
    assert plan.notes == []
    assert snapshots(a, b, alias) == before
    record.refresh_from_db()
    assert record.undone_by == "staff:alice"
    assert record.undone_at is not None


def test_undo_keeps_survivor_values_changed_since_the_merge(realm, rich_pair):
    a, b, _ = rich_pair
    record = persons_merge(survivor=a, others=[b])
    services.person_update(
        person=Person.objects.get(pk=a.pk), attributes={"city": "Split"}, phones=["385994444444"], tags=["Later"]
    )
    plan = merge_undo(record=record, actor="staff:alice")
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.city == "Split"  # changed since: kept
    assert a.first_name == "Jon"  # unchanged since: back to its pre-merge value
    assert sorted(a.phones.values_list("number", flat=True)) == ["385991111111", "385991111112", "385994444444"]
    assert sorted(a.tags.values_list("name", flat=True)) == ["Later", "VIP"]
    assert sorted(b.phones.values_list("number", flat=True)) == ["385992222222", "385993333333"]
    assert sorted(b.tags.values_list("name", flat=True)) == ["New", "VIP"]
    assert any("city" in line and "Split" in line for line in plan.kept)
    assert b.merged_into_id is None


def test_undo_moves_events_identities_and_channel_profiles_back(realm, rich_pair):
    a, b, _ = rich_pair
    b_events = set(PersonEvent.objects.filter(person=b).values_list("pk", flat=True))
    b_identities = set(Identity.objects.filter(person=b).values_list("pk", flat=True))
    record = persons_merge(survivor=a, others=[b])
    assert PersonEvent.objects.filter(person=a).count() == 6
    merge_undo(record=record)
    assert set(PersonEvent.objects.filter(person=b).values_list("pk", flat=True)) == b_events
    assert set(Identity.objects.filter(person=b).values_list("pk", flat=True)) == b_identities
    assert sorted(ChannelProfile.objects.filter(person=b).values_list("identifier", flat=True)) == ["reg-b1", "reg-b2"]


def test_undo_writes_outbox_rows_to_recreate_the_absorbed_and_update_the_survivor(cdp_realm):
    a = person(cdp_realm, days_old=5, phones=["385991111111"])
    b = person(cdp_realm, days_old=1, emails=["b@x.hr"])
    Person.objects.filter(pk=b.pk).update(infobip_id=777, sync_status="synced")
    Person.objects.filter(pk=a.pk).update(infobip_id=555, sync_status="synced")
    PersonEventFactory(person=b)
    record = persons_merge(survivor=a, others=[b])
    OutboxEntry.objects.all().delete()
    merge_undo(record=record, actor="staff:alice")
    create = OutboxEntry.objects.get(entity="person", op="create")
    update = OutboxEntry.objects.get(entity="person", op="update")
    assert create.entity_id == str(b.pk)
    assert create.payload["previousInfobipId"] == 777
    assert len(create.payload["events"]) == 1
    assert update.entity_id == str(a.pk)
    assert update.payload["removed"]["emails"] == ["b@x.hr"]
    b.refresh_from_db()
    a.refresh_from_db()
    assert (b.infobip_id, b.sync_status) == (None, "pending")  # created again in Infobip
    assert (a.infobip_id, a.sync_status) == (555, "pending")  # updated in Infobip


def blocked(record) -> list[str]:
    with pytest.raises(Conflict) as excinfo:
        merge_undo(record=record)
    assert excinfo.value.code == "undo_blocked"
    assert merge_undo_check(record=record).blockers == excinfo.value.data["blockers"]
    return excinfo.value.data["blockers"]


def test_undo_is_blocked_when_a_phone_now_belongs_to_another_person(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    record = persons_merge(survivor=a, others=[b])
    services.person_update(person=a, phones=["385991111111"], replace=True)  # b's phone leaves a...
    c = services.person_create(realm=realm, phones=["385992222222"])  # ...and a new person takes it
    assert blocked(record) == [f"Phone 385992222222 now belongs to person {c.pk}."]
    assert Person.objects.get(pk=b.pk).merged_into_id == a.pk  # nothing happened


def test_undo_is_blocked_when_an_email_or_external_id_was_taken(realm):
    a = person(realm, days_old=5, phones=["385991111111"], external_id="A-1")
    b = person(realm, days_old=1, emails=["b@x.hr"], external_id="B-2")
    record = persons_merge(survivor=a, others=[b], keep_emails=[], choices={"external_id": b.pk})
    services.person_update(person=a, attributes={"external_id": "A-9"})  # b's externalId leaves the survivor
    c = services.person_create(realm=realm, emails=["B@x.hr"], attributes={"external_id": "B-2"})
    assert blocked(record) == [
        f"Email B@x.hr now belongs to person {c.pk}.",
        f"externalId 'B-2' now belongs to person {c.pk}.",
    ]


def test_undo_is_blocked_when_a_person_was_deleted(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    record = persons_merge(survivor=a, others=[b])
    Person.objects.filter(pk=b.pk).delete()
    assert blocked(record) == [f"Person {b.pk} was deleted."]


def test_undo_is_blocked_when_the_survivor_was_deleted(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    record = persons_merge(survivor=a, others=[b])
    services.person_delete(person=a)
    record.refresh_from_db()
    assert blocked(record) == [f"The survivor (person {a.pk}) was deleted."]


def test_undo_is_blocked_when_the_survivor_was_merged_again(realm):
    a, b, c = (person(realm, days_old=d, phones=[f"38599111111{d}"]) for d in (3, 2, 1))
    first = persons_merge(survivor=b, others=[c])
    second = persons_merge(survivor=a, others=[b])
    assert blocked(first) == [
        f"The survivor (person {b.pk}) was merged into person {a.pk} since (merge #{second.pk}): undo that merge first."
    ]
    merge_undo(record=second)
    merge_undo(record=first)
    assert Person.objects.active().count() == 3


def test_undo_is_blocked_when_already_undone(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    record = persons_merge(survivor=a, others=[b])
    merge_undo(record=record, actor="staff:bob")
    record.refresh_from_db()
    [reason] = blocked(record)
    assert reason.startswith(f"Merge #{record.pk} was already undone on ")
    assert reason.endswith("by staff:bob.")


def test_undo_is_blocked_when_an_identity_was_linked_to_someone_else(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    c = person(realm, days_old=1, phones=["385993333333"])
    identity = IdentityFactory(realm=realm, person=b)
    record = persons_merge(survivor=a, others=[b])
    Identity.objects.filter(pk=identity.pk).update(person=c)
    assert blocked(record) == [f"Identity {identity.pk} is now linked to person {c.pk}."]


def test_undo_is_blocked_when_a_channel_profile_was_taken(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    c = person(realm, days_old=1, phones=["385993333333"])
    ChannelProfileFactory(person=b, identifier="reg-x")
    record = persons_merge(survivor=a, others=[b], keep_channel_profiles=[])
    ChannelProfileFactory(person=c, identifier="reg-x")
    assert blocked(record) == [f"push profile reg-x now belongs to person {c.pk}."]


def test_deleted_events_are_noted_not_blocking(realm):
    a = person(realm, days_old=5, phones=["385991111111"])
    b = person(realm, days_old=1, phones=["385992222222"])
    event = PersonEventFactory(person=b)
    PersonEventFactory(person=b)
    record = persons_merge(survivor=a, others=[b])
    PersonEvent.objects.filter(pk=event.pk).delete()
    plan = merge_undo(record=record)
    assert plan.notes == [f"1 event(s) of person {b.pk} were deleted since the merge."]
    assert PersonEvent.objects.filter(person=b).count() == 1
    assert PersonPhone.objects.filter(person=b).count() == 1
    assert PersonEmail.objects.filter(person=b).count() == 0
    assert MergeRecord.objects.get(pk=record.pk).undo_report["notes"] == plan.notes
