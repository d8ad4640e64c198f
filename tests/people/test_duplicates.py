"""Duplicate suggestions: blocking keys, scoring, the "not a duplicate" memory, the scan workflow."""

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django_q.conf import Conf
from django_q.models import Schedule

from people import tasks
from people.duplicates import (
    BLOCK_CAP,
    duplicate_dismiss,
    duplicate_scan_request,
    duplicates_find,
    duplicates_of_person,
    duplicates_rescan,
    email_key,
    external_id_key,
    fold_name,
    pair_score,
)
from people.merging import merge_undo, persons_merge
from people.models import DuplicateCandidate, DuplicateScan, NotDuplicate, Person
from people.seeding import FIRST_NAMES, LAST_NAMES, seed_persons
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db


def pairs(realm, **kwargs):
    found, _ = duplicates_find(realm=realm, **kwargs)
    return {(f.person_a, f.person_b): f for f in found}


def codes(found):
    return [r["code"] for r in found.reasons]


def test_keys_normalize_like_the_issue_says():
    assert email_key("Jane.Smith+news@X.com") == email_key("janesmith@x.com")
    assert external_id_key(" AB-12 ") == external_id_key("ab12")
    assert fold_name("Jurić  Šarić-Ćosić") == "juric saric cosic"


def test_scores_combine_reasons_and_name_similarity():
    assert pair_score("Jane Smith", "Jane Smith", {"name"}) == 70
    assert pair_score("Jane Smith", "Smith Jane", {"email"}) == 100
    assert pair_score("", "Jane Smith", {"email"}) == 75  # an unknown name counts half
    assert pair_score("Ana Horvat", "Ivan Kovač", {"birth_date"}) < 65
    assert pair_score("Ana Horvat", "Ana Horvat", {"name", "birth_date_differs"}) == 40


def test_different_birth_dates_speak_against_a_pair_with_the_same_name(realm):
    a = PersonFactory(realm=realm, first_name="Ana", last_name="Horvat", birth_date=dt.date(1970, 1, 1))
    b = PersonFactory(realm=realm, first_name="Ana", last_name="Horvat", birth_date=dt.date(1990, 6, 6))
    c = PersonFactory(realm=realm, first_name="Ana", last_name="Horvat", birth_date=None)
    assert sorted(pairs(realm)) == [(a.pk, c.pk), (b.pk, c.pk)]  # a and b, born twenty years apart, are not


def test_similar_emails_are_paired(realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Smith", emails=["jane.smith@x.hr"])
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Smith-Jones", emails=["janesmith+shop@x.hr"])
    found = pairs(realm)[(a.pk, b.pk)]
    assert "email" in codes(found)
    assert found.reasons[0]["detail"] == "jane.smith@x.hr ~ janesmith+shop@x.hr"


def test_external_id_in_another_form_is_paired(realm):
    a = PersonFactory(realm=realm, first_name="", last_name="", external_id="CRM-0042")
    b = PersonFactory(realm=realm, first_name="", last_name="", external_id="crm 0042")
    found = pairs(realm)[(a.pk, b.pk)]
    assert codes(found) == ["external_id"]
    assert found.score == 85


def test_same_national_number_with_another_country_prefix_is_paired(realm):
    a = PersonFactory(realm=realm, first_name="Ivo", last_name="Ivić", phones=["385911234567"])
    b = PersonFactory(realm=realm, first_name="Ivo", last_name="Ivic", phones=["49911234567"])
    c = PersonFactory(realm=realm, first_name="Ivo", last_name="Ivić", phones=["385981234567"])  # other number
    found = pairs(realm)
    assert "phone" in codes(found[(a.pk, b.pk)])
    assert found[(a.pk, b.pk)].reasons[0]["detail"] == "385911234567 ~ 49911234567"
    assert "phone" not in codes(found[(a.pk, c.pk)])  # only the names pair them


def test_same_birth_date_and_similar_names(realm):
    born = dt.date(1980, 5, 1)
    a = PersonFactory(realm=realm, first_name="Jana", last_name="Horvat", birth_date=born)
    b = PersonFactory(realm=realm, first_name="Jana", last_name="Horvath", birth_date=born)
    c = PersonFactory(realm=realm, first_name="Josip", last_name="Babić", birth_date=born)
    found = pairs(realm)
    assert codes(found[(a.pk, b.pk)]) == ["birth_date"]
    assert (a.pk, c.pk) not in found  # same block, names too different


def test_blocks_above_the_cap_are_skipped_and_counted(realm):
    for _ in range(4):
        PersonFactory(realm=realm, first_name="John", last_name="Smith")
    found, stats = duplicates_find(realm=realm, cap=3)
    assert found == []
    assert stats.skipped_blocks["name"] == 2  # "smith|j" and "smith|john"
    found, _ = duplicates_find(realm=realm, cap=BLOCK_CAP)
    assert len(found) == 6


def test_other_realms_and_absorbed_persons_are_never_paired(realm, other_realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", phones=["385991111111"])
    PersonFactory(realm=other_realm, first_name="Jane", last_name="Doe")
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["d@x.hr"])
    c = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["c@x.hr"])
    persons_merge(survivor=a, others=[c])
    assert set(pairs(realm)) == {(a.pk, b.pk)}


def test_rescan_stores_suggestions_and_not_a_duplicate_is_remembered(realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["jane.doe@x.hr"])
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["janedoe@x.hr"])
    stats = duplicates_rescan(realm=realm)
    assert stats.candidates == 1
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.person_a_id, candidate.person_b_id, candidate.status) == (a.pk, b.pk, "open")
    assert [r["code"] for r in candidate.reasons] == ["email", "name"]
    assert [other.pk for _, other in duplicates_of_person(b)] == [a.pk]

    duplicate_dismiss(person_a=b, person_b=a, actor="staff:alice")
    assert NotDuplicate.objects.get().decided_by == "staff:alice"
    assert duplicates_of_person(a) == []
    duplicates_rescan(realm=realm)
    assert DuplicateCandidate.objects.get().status == "dismissed"
    DuplicateCandidate.objects.all().delete()
    assert duplicates_rescan(realm=realm).candidates == 0  # the decision outlives the suggestion


def test_rescan_drops_suggestions_no_longer_found(realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    duplicates_rescan(realm=realm)
    assert DuplicateCandidate.objects.count() == 1
    a.last_name = "Kovač"
    a.save()
    duplicates_rescan(realm=realm)
    assert DuplicateCandidate.objects.count() == 0


def test_merge_settles_suggestions_and_undo_reopens_them(realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", phones=["385991111111"])
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    duplicates_rescan(realm=realm)
    record = persons_merge(survivor=a, others=[b])
    assert DuplicateCandidate.objects.get().status == "merged"
    merge_undo(record=record)
    assert DuplicateCandidate.objects.get().status == "open"


def test_scan_request_runs_in_a_worker_and_records_counts(realm, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(Conf, "SYNC", True)
    PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    with django_capture_on_commit_callbacks(execute=True):
        scan = duplicate_scan_request(realm=realm, started_by="staff:alice")
    scan.refresh_from_db()
    assert scan.status == "succeeded"
    assert scan.counts["candidates"] == 1
    assert scan.counts["persons"] == 2
    assert tasks.duplicate_scan_run(scan.pk) == "succeeded"  # a second run does nothing
    assert DuplicateScan.objects.count() == 1


def test_nightly_schedule_is_registered_idempotently_and_queues_one_scan_per_realm(realm, other_realm):
    # The migration's rows do not survive a flush by transactional tests: register again, twice.
    migration = importlib.import_module("people.migrations.0005_duplicate_scan_schedule")
    migration.register(django_apps, None)
    migration.register(django_apps, None)
    schedule = Schedule.objects.get(name="people.duplicates_nightly_rescan")
    assert (schedule.func, schedule.schedule_type) == ("people.tasks.duplicates_rescan_all", "D")
    assert tasks.duplicates_rescan_all() == 2
    assert tasks.duplicates_rescan_all() == 0  # both still queued
    assert DuplicateScan.objects.filter(status="queued", started_by="schedule").count() == 2


def test_every_planted_duplicate_of_the_realistic_seed_is_suggested(realm):
    seeded = seed_persons(
        realm=realm, persons=3000, identities="none", events_per_person=0, names="realistic", duplicates=0.1, batch=1000
    )
    assert {kind for _, _, kind in seeded.planted} == {"email", "phone", "name_birth"}
    assert len(seeded.planted) > 200
    batches = []
    stats = duplicates_rescan(realm=realm, progress=batches.append)
    assert batches == [stats.pairs]  # one fetched batch of pairs at this size, reported once
    suggested = set(DuplicateCandidate.objects.values_list("person_a_id", "person_b_id"))
    assert {(a, b) for a, b, _ in seeded.planted} <= suggested
    assert len(suggested) < 1.2 * len(seeded.planted)  # generated names rarely collide by chance


def test_the_demo_seed_keeps_its_names_and_plants_nothing(realm):
    seeded = seed_persons(realm=realm, persons=200, identities="none", events_per_person=0)
    assert seeded.planted == []
    names = set(Person.objects.filter(realm=realm).values_list("first_name", "last_name"))
    assert {first for first, _ in names} <= set(FIRST_NAMES)
    assert {last for _, last in names} <= set(LAST_NAMES)
