"""The three-step two-way sync over real HTTP against the sandbox: each step with its own fixtures, the pull's
merge rules, ambiguous matches, idempotence, resuming after a crash, slices, filters and rate limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from identities.models import Identity
from infobip import services, sync, tasks
from infobip.client import clear_client_cache
from infobip.models import OutboxEntry, SyncRun, SyncRunStatus
from people.models import Person, SyncStatus
from tests.identities.factories import IdentityFactory
from tests.infobip.conftest import drain_all

pytestmark = pytest.mark.django_db

OWNER = "abcdefabcdefabcdefabcdef"


def start(realm, **params):
    run = SyncRun.objects.create(realm=realm, owner=OWNER, started_by="test", params=params)
    return sync.execute_run(run.pk)


def load(sandbox, *persons):
    return sandbox.load_persons(list(persons))


def linked(identity) -> int | None:
    identity.refresh_from_db()
    return identity.person.infobip_id if identity.person_id else None


def kinds(run) -> list[str]:
    return [e["kind"] for e in run.errors]


# --------------------------------------------------------------------------------------------------- step 1


def test_step1_links_orphan_identities_by_external_id_then_email_then_phone(cdp_realm, push_settings, infobip_sandbox):
    by_id = IdentityFactory(realm=cdp_realm)
    by_email = IdentityFactory(realm=cdp_realm, data={"email": "Ana@Example.com"})
    by_phone = IdentityFactory(realm=cdp_realm, data={"phone": "+385 91 333 4444"})
    lonely = IdentityFactory(realm=cdp_realm, data={"note": "no email, no phone"})
    p1, p2, p3 = load(
        infobip_sandbox,
        {"externalId": by_id.id, "firstName": "Ivo"},
        {"firstName": "Ana", "contactInformation": {"email": [{"address": "ana@example.com"}]}},
        {"firstName": "Phone only", "contactInformation": {"phone": [{"number": "385913334444"}]}},
    )
    run = start(cdp_realm)
    assert run.status == SyncRunStatus.SUCCEEDED
    assert (linked(by_id), linked(by_email), linked(by_phone), linked(lonely)) == (p1, p2, p3, None)
    step1 = run.counts["step1"]
    assert (step1["linked"], step1["by_external_id"], step1["by_email"], step1["by_phone"]) == (3, 1, 1, 1)
    assert step1["unmatched"] == 1
    assert run.counts["step3"]["identities_created"] == 0
    mirror = Person.objects.get(infobip_id=p3)
    assert (mirror.first_name, list(mirror.phones.values_list("number", flat=True))) == ("Phone only", ["385913334444"])


def test_step1_two_identities_claiming_one_person_the_older_wins(cdp_realm, push_settings, infobip_sandbox):
    older = IdentityFactory(realm=cdp_realm, data={"email": "same@example.com"})
    Identity.objects.filter(pk=older.pk).update(created=timezone.now() - dt.timedelta(days=3))
    newer = IdentityFactory(realm=cdp_realm, data={"emails": ["same@example.com"]})
    (person,) = load(infobip_sandbox, {"contactInformation": {"email": [{"address": "same@example.com"}]}})
    run = start(cdp_realm)
    assert (linked(older), linked(newer)) == (person, None)
    assert "two_identities_claim_one_person" in kinds(run)
    assert run.counts["step1"]["conflicts"] == 1
    assert Identity.objects.filter(realm=cdp_realm).count() == 2  # nobody got a new identity


def test_step1_a_stronger_claim_beats_an_older_one(cdp_realm, push_settings, infobip_sandbox):
    by_email = IdentityFactory(realm=cdp_realm, data={"email": "x@example.com"})
    Identity.objects.filter(pk=by_email.pk).update(created=timezone.now() - dt.timedelta(days=3))
    by_id = IdentityFactory(realm=cdp_realm)
    (person,) = load(
        infobip_sandbox, {"externalId": by_id.id, "contactInformation": {"email": [{"address": "x@example.com"}]}}
    )
    start(cdp_realm)
    assert (linked(by_id), linked(by_email)) == (person, None)


def test_step1_one_identity_matching_two_persons_links_neither(cdp_realm, push_settings, infobip_sandbox):
    identity = IdentityFactory(realm=cdp_realm, data={"emails": ["one@example.com", "two@example.com"]})
    load(
        infobip_sandbox,
        {"contactInformation": {"email": [{"address": "one@example.com"}]}},
        {"contactInformation": {"email": [{"address": "two@example.com"}]}},
    )
    run = start(cdp_realm)
    assert linked(identity) is None
    assert "identity_matches_several_persons" in kinds(run)
    assert run.counts["step3"]["identities_created"] == 0  # neither person gets a new identity on a guess


def test_step1_a_stronger_match_on_a_later_page_wins(cdp_realm, push_settings, infobip_sandbox, monkeypatch):
    monkeypatch.setattr(sync.runs, "PAGE_SIZE", 1)
    identity = IdentityFactory(realm=cdp_realm, data={"phone": "385914445555"})
    weak, strong = load(
        infobip_sandbox,
        {"contactInformation": {"phone": [{"number": "385914445555"}]}},
        {"externalId": identity.id},
    )
    run = start(cdp_realm)
    assert linked(identity) == strong
    assert "stronger_match_elsewhere" in kinds(run)
    assert not Identity.objects.filter(person__infobip_id=weak).exists()  # reported, not given a new identity
    assert infobip_sandbox.calls("POST /people/2/persons/match") == 1  # the weak claim was checked


# --------------------------------------------------------------------------------------------------- step 2


def test_step2_sets_the_identity_id_as_externalid_here_and_in_infobip(cdp_realm, push_settings, infobip_sandbox):
    identity = IdentityFactory(realm=cdp_realm, data={"email": "lee@example.com"})
    (person,) = load(
        infobip_sandbox, {"externalId": "crm-77", "contactInformation": {"email": [{"address": "lee@example.com"}]}}
    )
    run = start(cdp_realm)
    mirror = Person.objects.get(infobip_id=person)
    assert (mirror.external_id, mirror.sync_status) == (identity.id, SyncStatus.PENDING)
    assert run.counts["step2"]["external_ids_set"] == 1
    drain_all()
    assert infobip_sandbox.store.persons[person]["externalId"] == identity.id
    assert Person.objects.get(infobip_id=person).sync_status == SyncStatus.SYNCED


def test_step2_an_externalid_naming_an_identity_linked_elsewhere_is_reported(cdp_realm, push_settings, infobip_sandbox):
    two = load(infobip_sandbox, {"firstName": "Two"})[0]
    here = Person.objects.create(realm=cdp_realm, first_name="Two", infobip_id=two, sync_status="synced")
    identity = IdentityFactory(realm=cdp_realm, person=here)
    (claims,) = load(infobip_sandbox, {"externalId": identity.id, "firstName": "Claims it too"})
    run = start(cdp_realm)
    assert "identity_linked_elsewhere" in kinds(run)
    assert not Identity.objects.filter(person__infobip_id=claims).exists()  # merge the two, says the report
    assert linked(identity) == two
    assert run.counts["step3"]["identities_created"] == 0


# --------------------------------------------------------------------------------------------------- step 3


def test_step3_gives_remaining_persons_new_identities_with_the_runs_country_and_currency(
    cdp_realm, push_settings, infobip_sandbox
):
    one, two = load(infobip_sandbox, {"firstName": "New"}, {"firstName": "Also new", "externalId": "crm-1"})
    run = start(cdp_realm, country="DE", currency="CHF")
    assert run.counts["step3"]["identities_created"] == 2
    for infobip_id in (one, two):
        identity = Identity.objects.get(person__infobip_id=infobip_id)
        assert (identity.country, identity.currency, identity.owner, identity.type) == ("DE", "CHF", OWNER, "person")
        assert Person.objects.get(infobip_id=infobip_id).external_id == identity.id
    drain_all()
    for infobip_id in (one, two):
        assert (
            infobip_sandbox.store.persons[infobip_id]["externalId"]
            == Identity.objects.get(person__infobip_id=infobip_id).id
        )


def test_step3_defaults_to_the_realms_country_and_currency(cdp_realm, push_settings, infobip_sandbox):
    load(infobip_sandbox, {"firstName": "New"})
    start(cdp_realm)
    identity = Identity.objects.get()
    assert (identity.country, identity.currency) == (cdp_realm.default_country, cdp_realm.default_currency)


# ----------------------------------------------------------------------------------------------- the pull


def test_the_pull_merges_with_infobips_rules(cdp_realm, push_settings, infobip_sandbox):
    from people import services as people

    (remote_id,) = load(
        infobip_sandbox,
        {
            "externalId": "e-1",
            "firstName": "Newer",
            "city": "Split",
            "type": "LEAD",
            "tags": ["Remote"],
            "contactInformation": {"phone": [{"number": "385915556666"}], "email": [{"address": "r@example.com"}]},
        },
    )
    local = people.person_create(
        realm=cdp_realm,
        attributes={"first_name": "Older", "external_id": "e-1", "country": "Croatia"},
        phones=["+385 98 777 8888"],
        tags=["Local"],
    )
    drain_all()  # the push adopts the Infobip person (same externalId) and PATCHes our state onto it ...
    local.refresh_from_db()
    assert local.infobip_id == remote_id
    # ... then Infobip changes the name and a phone disappears there; our old changes are all delivered.
    store = infobip_sandbox.store
    record = dict(store.persons[remote_id])
    record.update(
        firstName="Renamed", modifiedAt=(timezone.now() + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    record["contactInformation"] = {"phone": [{"number": "385915556666"}], "email": [{"address": "r@example.com"}]}
    store.persons[remote_id] = record
    run = start(cdp_realm)
    local.refresh_from_db()
    assert local.first_name == "Renamed"  # Infobip's newer value wins
    assert local.country == "Croatia"  # an empty value is filled from the other side
    assert local.type == "CUSTOMER"  # a Customer stays a Customer
    assert sorted(local.phones.values_list("number", flat=True)) == ["385915556666", "385987778888"]  # union
    assert run.counts["pull"]["pushed_back"] == 1
    drain_all()
    phones = sorted(p["number"] for p in store.persons[remote_id]["contactInformation"]["phone"])
    assert phones == ["385915556666", "385987778888"]


def test_local_newer_values_win_and_go_back_to_infobip(cdp_realm, push_settings, infobip_sandbox):
    (remote_id,) = load(
        infobip_sandbox, {"externalId": "e-2", "firstName": "Stale", "modifiedAt": "2020-01-01T00:00:00"}
    )
    Person.objects.create(
        realm=cdp_realm, external_id="e-2", first_name="Fresh", infobip_id=remote_id, sync_status="synced"
    )
    IdentityFactory(realm=cdp_realm, id="e0e0e0e0e0e0e0e0e0e0e0e0")
    start(cdp_realm)
    assert Person.objects.get(infobip_id=remote_id).first_name == "Fresh"
    drain_all()
    assert infobip_sandbox.store.persons[remote_id]["firstName"] == "Fresh"


def test_a_person_with_undelivered_changes_is_linked_not_merged(cdp_realm, push_settings, infobip_sandbox):
    from people import services as people

    local = people.person_create(realm=cdp_realm, attributes={"first_name": "Mine", "external_id": "e-3"})
    (remote_id,) = load(infobip_sandbox, {"externalId": "e-3", "firstName": "Theirs"})
    start(cdp_realm)
    local.refresh_from_db()
    assert (local.infobip_id, local.first_name) == (remote_id, "Mine")
    drain_all()
    assert infobip_sandbox.store.persons[remote_id]["firstName"] == "Mine"
    assert len(infobip_sandbox.store.persons) == 1


# ------------------------------------------------------------------------------------ idempotence and resume


def test_a_second_run_changes_nothing(cdp_realm, push_settings, infobip_sandbox):
    IdentityFactory(realm=cdp_realm)
    for n in range(3):
        IdentityFactory(realm=cdp_realm, data={"email": f"m{n}@example.com"})
    load(
        infobip_sandbox,
        *[{"contactInformation": {"email": [{"address": f"m{n}@example.com"}]}, "tags": ["T"]} for n in range(3)],
        *[
            {"firstName": f"Unmatched {n}", "contactInformation": {"phone": [{"number": f"38591000000{n}"}]}}
            for n in range(3)
        ],
    )
    first = start(cdp_realm)
    assert first.counts["step3"]["identities_created"] == 3
    drain_all()

    def snapshot():
        persons = list(Person.objects.order_by("pk").values())
        identities = list(Identity.objects.order_by("pk").values())
        return persons, identities, OutboxEntry.objects.count()

    before = snapshot()
    calls_before = dict(infobip_sandbox.stats()["calls"])
    second = start(cdp_realm)
    assert snapshot() == before
    counts = second.counts
    assert counts["pull"]["created"] == counts["pull"]["updated"] == counts["pull"]["pushed_back"] == 0
    assert (
        counts["step1"]["linked"] == counts["step2"]["external_ids_set"] == counts["step3"]["identities_created"] == 0
    )
    calls = {k: v - calls_before.get(k, 0) for k, v in infobip_sandbox.stats()["calls"].items()}
    assert {k for k, v in calls.items() if v} == {"GET /people/2/persons"}  # read only


class Crash(BaseException):
    """A worker dying: not an Exception, so nothing in the run catches it."""


def test_a_run_resumes_after_a_crash_without_repeating_finished_pages(
    cdp_realm, push_settings, infobip_sandbox, monkeypatch
):
    monkeypatch.setattr(sync.runs, "PAGE_SIZE", 2)
    load(infobip_sandbox, *[{"firstName": f"P{n}", "externalId": f"crm-{n}"} for n in range(6)])
    run = SyncRun.objects.create(realm=cdp_realm, owner=OWNER, params={})

    def die_after(page):
        if page == 2:
            raise Crash

    with pytest.raises(Crash):
        sync.execute_run(run.pk, after_page=die_after)
    run.refresh_from_db()
    assert (run.status, run.progress["next_page"], run.progress["pages_done"]) == ("running", 3, 2)
    assert Identity.objects.count() == 4
    assert tasks.sync_run_execute(run.pk) is None  # a fresh heartbeat: the scheduler leaves it to its worker
    assert SyncRun.objects.get(pk=run.pk).progress["next_page"] == 3
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args, kw["cluster"]))
    )
    assert sync.sync_runs_resume_stale() == [run.pk]  # what the minute schedule does
    assert queued == [("infobip.tasks.sync_run_execute", (run.pk,), settings.Q_INTERACTIVE_CLUSTER)]
    resumed = sync.execute_run(run.pk)
    assert resumed.status == SyncRunStatus.SUCCEEDED
    assert resumed.progress["resumed"] == 1
    assert infobip_sandbox.calls("GET /people/2/persons") == 4  # pages 1, 2, then 3 and the empty 4: none twice
    assert Identity.objects.count() == 6
    assert resumed.counts["step3"]["identities_created"] == 6


def test_a_long_run_hands_over_to_a_new_task_at_its_cursor(
    cdp_realm, push_settings, infobip_sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(sync.runs, "PAGE_SIZE", 2)
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args, kw["cluster"]))
    )
    load(infobip_sandbox, *[{"firstName": f"P{n}"} for n in range(5)])
    run = SyncRun.objects.create(realm=cdp_realm, owner=OWNER, params={})
    with django_capture_on_commit_callbacks(execute=True):
        handed = sync.execute_run(run.pk, max_seconds=0)
    assert (handed.status, handed.heartbeat_at, handed.progress["next_page"]) == ("running", None, 2)
    assert queued == [("infobip.tasks.sync_run_execute", (run.pk,), settings.Q_INTERACTIVE_CLUSTER)]
    while (run := sync.execute_run(run.pk, max_seconds=0)).status == "running":
        pass
    assert run.status == SyncRunStatus.SUCCEEDED
    assert run.progress["pages_done"] == 3
    assert Identity.objects.count() == 5
    assert infobip_sandbox.calls("GET /people/2/persons") == 3


def test_a_page_that_fails_halfway_leaves_nothing_and_is_done_again_on_resume(
    cdp_realm, push_settings, infobip_sandbox, monkeypatch
):
    monkeypatch.setattr(sync.runs, "PAGE_SIZE", 2)
    load(infobip_sandbox, *[{"firstName": f"P{n}"} for n in range(4)])
    original = sync.PageWork.step3
    calls = {"n": 0}

    def flaky(self, persons):
        calls["n"] += 1
        original(self, persons)
        if calls["n"] == 2:
            raise RuntimeError("database went away")

    monkeypatch.setattr(sync.PageWork, "step3", flaky)
    run = SyncRun.objects.create(realm=cdp_realm, owner=OWNER, params={})
    failed = sync.execute_run(run.pk)
    assert failed.status == SyncRunStatus.FAILED
    assert failed.errors[-1]["message"] == "database went away"
    assert (failed.progress["next_page"], Identity.objects.count()) == (2, 2)  # page 2 rolled back entirely
    services.sync_run_resume(run=failed)
    resumed = sync.execute_run(run.pk, resume=True)
    assert resumed.status == SyncRunStatus.SUCCEEDED
    assert Identity.objects.count() == 4
    assert Person.objects.count() == 4


# ----------------------------------------------------------------------------------------- slices, filters


def test_limit_and_page_bound_the_slice(cdp_realm, push_settings, infobip_sandbox):
    ids = load(infobip_sandbox, *[{"firstName": f"P{n}"} for n in range(6)])
    run = start(cdp_realm, limit="2", page=2)
    assert set(Person.objects.values_list("infobip_id", flat=True)) == set(ids[2:4])
    assert run.progress["total"] == 2
    assert infobip_sandbox.calls("GET /people/2/persons") == 1


def test_the_filter_goes_to_infobip(cdp_realm, push_settings, infobip_sandbox):
    load(infobip_sandbox, {"firstName": "Keep", "lastName": "Horvat"}, {"firstName": "Skip", "lastName": "Smith"})
    start(cdp_realm, filter={"lastName": "Horvat"})
    assert list(Person.objects.values_list("first_name", flat=True)) == ["Keep"]


def test_the_pull_respects_infobips_rate_limits(cdp_realm, push_settings, infobip_sandbox, monkeypatch):
    monkeypatch.setattr(sync.runs, "PAGE_SIZE", 1)
    push_settings.INFOBIP_RATE_LIMITS = "real"
    push_settings.INFOBIP_RATE_LIMITER = "memory"
    clear_client_cache()
    infobip_sandbox.set_rate_limits("real")
    load(infobip_sandbox, *[{"firstName": f"P{n}"} for n in range(7)])
    run = start(cdp_realm)
    assert run.status == SyncRunStatus.SUCCEEDED
    assert infobip_sandbox.calls("GET /people/2/persons") == 8
    assert infobip_sandbox.max_in_window("GET /people/2/persons") <= 5
    assert infobip_sandbox.stats()["faults"].get("rate_limited", {}) == {}
    clear_client_cache()


def test_a_realm_without_the_extension_cannot_sync(cdp_realm, push_settings, infobip_sandbox):
    cdp_realm.cdp_enabled = False
    cdp_realm.save()
    run = start(cdp_realm)
    assert run.status == SyncRunStatus.FAILED
    assert "extension is off" in run.errors[-1]["message"]
    assert infobip_sandbox.stats()["calls"] == {}


def test_bad_parameters_fail_the_run_before_any_call(cdp_realm, push_settings, infobip_sandbox):
    run = start(cdp_realm, country="Croatia")
    assert run.status == SyncRunStatus.FAILED
    assert "ISO 3166-1" in run.errors[-1]["message"]
    assert infobip_sandbox.stats()["calls"] == {}


def test_a_failure_talking_to_infobip_fails_the_run_with_the_reason(cdp_realm, push_settings, infobip_sandbox):
    infobip_sandbox.faults.configure(error_rate=1.0)
    run = start(cdp_realm)
    assert run.status == SyncRunStatus.FAILED
    assert "500" in run.errors[-1]["message"] or "503" in run.errors[-1]["message"]


# -------------------------------------------------------------------------------------- starting a run


def test_start_queues_the_run_after_commit_and_the_task_runs_it(
    cdp_realm, push_settings, infobip_sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args, kw["cluster"]))
    )
    load(infobip_sandbox, {"firstName": "Solo"})
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sync_run_start(realm=cdp_realm, owner=OWNER, started_by="staff", params={"country": "AT"})
    assert queued == [("infobip.tasks.sync_run_execute", (run.pk,), settings.Q_INTERACTIVE_CLUSTER)]
    tasks.sync_run_execute(run.pk)
    tasks.sync_run_execute(run.pk)  # safe to run twice: a finished run is left alone
    run.refresh_from_db()
    assert (run.status, Identity.objects.get().country) == (SyncRunStatus.SUCCEEDED, "AT")
    assert run.started_at <= run.finished_at
    assert run.progress["pages_done"] == 1


def test_a_cancelled_run_stops(cdp_realm, push_settings, infobip_sandbox):
    run = SyncRun.objects.create(realm=cdp_realm, owner=OWNER)
    services.sync_run_cancel(run=run)
    assert sync.execute_run(run.pk) is None
    assert SyncRun.objects.get(pk=run.pk).status == SyncRunStatus.CANCELLED


def test_identity_contacts_read_the_free_form_data():
    emails, phones = sync.identity_contacts(
        {"email": "A@B.hr", "emails": ["c@d.hr", 5], "phones": ["091 234 5678", "+41 79 302 67 27"]}, "HR"
    )
    assert emails == ["a@b.hr", "c@d.hr"]
    assert "385912345678" in phones
    assert "41793026727" in phones
