"""Duplicate suggestions: blocking keys, scoring, the "not a duplicate" memory, the scan workflow."""

import datetime as dt
import importlib
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django_q.conf import Conf
from django_q.models import Schedule

from people import seeding, tasks
from people.duplicates import (
    BLOCK_CAP,
    STREAM_SQL,
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


# A rescan on a brand-new database (issue 11): plans made without statistics must not scan per row.
RESCAN_TABLES = [
    "people_person", "people_personphone", "people_personemail", "people_person_tags", "people_duplicatecandidate",
    "people_notduplicate", "identities_identity", "people_personevent",
]  # fmt: skip


def _forget_statistics() -> None:
    """The tables as a new database has them: empty, analyzed while empty (the planner's worst case)."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(RESCAN_TABLES)} CASCADE")
        for table in RESCAN_TABLES:
            cursor.execute(f"ANALYZE {table}")


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _per_row_scans(plan: dict) -> list[str]:
    """Nested loops whose inner side reads a whole relation for every outer row: what grows with the square."""
    found = []
    for node in _nodes(plan):
        if node["Node Type"] == "Nested Loop" and len(node.get("Plans", ())) == 2:
            inner = node["Plans"][1]
            while inner["Node Type"] in ("Materialize", "Hash", "Memoize") and inner.get("Plans"):
                inner = inner["Plans"][0]
            if inner["Node Type"] in ("Seq Scan", "CTE Scan", "Function Scan"):
                found.append(f"{inner['Node Type']} on {inner.get('Relation Name') or inner.get('CTE Name')}")
    return found


def _planned_rescan(realm) -> tuple[list[str], int, list[tuple[str, float]], Counter]:
    """Rescan ``realm`` and EXPLAIN every statement it sends just before it runs (and the stream's query at its
    first batch): (per-row scans found, statements sent but statistics_refresh's ANALYZEs, (statement, planned
    rows of its top node), sequential scans of the person tables by the rescan and its foreign-key checks)."""
    scans, planned, sent = [], [], []

    def explain(cursor, sql, params) -> None:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        plan = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
        scans.extend(_per_row_scans(plan))
        planned.append((" ".join(sql.split())[:60], plan["Plan Rows"]))

    def wrapper(execute, sql, params, many, context):
        words = sql.split()
        if not (words[0] == "ANALYZE" and words[1].startswith('"')):  # statistics_refresh's, when tables grew
            sent.append(sql)
        query = words[0].upper() in ("WITH", "SELECT", "INSERT", "DELETE") and "pg_" not in sql
        filled_temp_table = words[:3] == ["CREATE", "TEMP", "TABLE"] and "AS" in words[4:8]
        if not many and (query or filled_temp_table):
            explain(context["cursor"].cursor, sql, params)
        return execute(sql, params, many, context)

    def first_batch(pairs: int) -> None:
        if not any(name == "stream" for name, _ in planned):
            with connection.cursor() as cursor:
                explain(cursor.cursor, STREAM_SQL, None)
            planned[-1] = ("stream", planned[-1][1])

    before = _sequential_scans()
    with connection.execute_wrapper(wrapper):
        duplicates_rescan(realm=realm, progress=first_batch)
    return scans, len(sent), planned, _sequential_scans() - before


def _sequential_scans() -> dict[str, int]:
    """Sequential scans of the rescan's tables so far in this transaction (this backend's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)", [RESCAN_TABLES]
        )
        return Counter(dict(cursor.fetchall()))


def test_a_rescan_on_a_new_database_plans_no_scan_per_row_at_any_size(realm, monkeypatch):
    _forget_statistics()
    # The persons arrive without the seed's own ANALYZE, as an import's rows would before any refresh.
    monkeypatch.setattr(seeding, "statistics_refresh", lambda tables: [])
    seeding.seed_persons(
        realm=realm, persons=400, identities="none", events_per_person=0, names="realistic", duplicates=0.1
    )
    small_scans, small_sent, small_planned, small_read = _planned_rescan(realm)
    seeding.seed_persons(
        realm=realm, persons=4000, identities="none", events_per_person=0, names="realistic", duplicates=0.1, seed=7
    )
    large_scans, large_sent, large_planned, large_read = _planned_rescan(realm)
    # Small, the stream may check the (empty) "not a duplicate" table row by row; at ten times the size nothing
    # is read whole per row.
    assert set(small_scans) <= {"Seq Scan on people_notduplicate"}, small_scans
    assert large_scans == [], large_scans
    assert small_sent == large_sent  # nothing per person or per pair goes through its own statement
    # Nor per suggestion inside a statement: the foreign-key checks of the suggestions written (person_a,
    # person_b) use the person table's index; a table read whole for each would count here once a row.
    assert large_read["people_person"] <= small_read["people_person"] + 2, (small_read, large_read)
    # The planner knows how big the persons and their pairs are (temporary tables are never auto-analyzed: the
    # rescan analyzes them), so the plans follow the sizes instead of assuming empty tables.
    small, large = dict(small_planned), dict(large_planned)
    assert large["stream"] > 5 * small["stream"] > 0, (small_planned, large_planned)


def test_a_rescan_reads_the_contacts_of_its_own_realm_only(realm, other_realm, monkeypatch):
    """Beside a bigger realm, a rescan costs what its own persons cost: no key computed for others' contacts."""
    seeding.seed_persons(realm=other_realm, persons=3000, identities="none", events_per_person=0, names="realistic")
    with connection.cursor() as cursor:  # statistics that know the other realm only, as a new realm finds them
        cursor.execute("ANALYZE people_person, people_personemail, people_personphone")
    monkeypatch.setattr(seeding, "statistics_refresh", lambda tables: [])
    seeding.seed_persons(realm=realm, persons=300, identities="none", events_per_person=0, names="realistic", seed=7)
    read: dict[str, int] = Counter()

    def wrapper(execute, sql, params, many, context):
        if not many and ("people_personemail" in sql or "people_personphone" in sql) and "dup_persons" in sql:
            cursor = context["cursor"].cursor
            cursor.execute("SAVEPOINT explained")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            cursor.execute("ROLLBACK TO SAVEPOINT explained")
            for node in _nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]):
                if node.get("Relation Name") in ("people_personemail", "people_personphone"):
                    read[node["Relation Name"]] += node["Actual Rows"] * node["Actual Loops"]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        duplicates_rescan(realm=realm)
    # Rows the contact tables' scans passed on (to the key computation and the join): the realm's own.
    assert read["people_personemail"] == Person.objects.filter(realm=realm).count() == 300
    assert 300 <= read["people_personphone"] < 400, read  # one or two phones a person
    # The contacts' statistics were taken before this realm had any (it grew by a tenth since): the planner
    # believes it has about none, yet no statement may compare them all with each other.
    scans, *_ = _planned_rescan(realm)
    assert set(scans) <= {"Seq Scan on people_notduplicate"}, scans
