"""GDPR: POST /v1/identities/persons/:id/erase leaves no trace of the person in any table (every text and JSON
column of every table is scanned), pushes the delete to Infobip by Infobip id, and leaves an audit row; GET
.../persons/:id/export answers everything held about the person."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test import Client

from infobip.models import OutboxAttempt, OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus, SyncRun
from people import services
from people.models import Person, PersonActivity
from tests.api_support import api_client
from tests.identities.factories import ApiKeyFactory
from tests.imports.helpers import csv_bytes, import_file
from tests.infobip.conftest import drain_all
from tests.infobip.conftest import push_settings as push_settings  # a fixture
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

EMAIL, OLD_EMAIL, ALIAS_EMAIL = "zvonimira.erasovic@example.com", "zv.old@example.com", "zv.alias@example.com"
PHONE, PHONE_DIGITS = "+385 91 765 4321", "385917654321"
FIRST, LAST = "Zvonimira", "Erasovic"
REGISTRATION, SESSION = "reg-zv-6f1c2d", "chat-zv-81f2"  # the phone's push registration, a chat's session
TRACES = [EMAIL, OLD_EMAIL, ALIAS_EMAIL, PHONE_DIGITS, "917654321", FIRST, LAST, REGISTRATION, SESSION]
SHOP = "https://shop.example.com"


def traces_in_database(values: list[str]) -> list[str]:
    """Every (table.column, value) where one of `values` occurs, over every text, varchar, json and jsonb column
    of every table of the database (information_schema: nothing is listed by hand)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "AND c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
        )
        columns = cursor.fetchall()
        assert len(columns) > 100  # the scan really covers the schema
        found = []
        patterns = [f"%{v}%" for v in values]
        for table, column in columns:
            cursor.execute(
                f'SELECT "{column}"::text FROM "{table}" WHERE "{column}"::text ILIKE ANY(%s) LIMIT 3',  # noqa: S608
                [patterns],
            )
            found += [f"{table}.{column}: {row[0][:200]}" for row in cursor.fetchall()]
    return found


@pytest.fixture
def cdp_api(cdp_realm):
    key = ApiKeyFactory(realm=cdp_realm, name="shop")
    return api_client(key.plain)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


def _a_person_with_a_past(cdp_realm, cdp_api, admin_user):
    """The person as a year of use leaves it: created over the API (stored idempotent response), an email
    replaced (the old one only in outbox payloads), pushed (Infobip id, call logs), an alias merged in, events,
    an admin edit, an import that refused a row naming it, a sync conflict naming it, a tracking visitor, a website
    form it sent, its phone's app installed and logged in (the installation's lead merged away into it), a chatbot
    session."""
    body = {
        "alias": "holder",
        "country": "HR",
        "currency": "EUR",
        "person": {
            "firstName": FIRST,
            "lastName": LAST,
            "contactInformation": {"email": [{"address": OLD_EMAIL}], "phone": [{"number": PHONE}]},
        },
    }
    created = cdp_api.post("/v1/identities/person", body, format="json", HTTP_IDEMPOTENCY_KEY="create-zv")
    assert created.status_code == 201, created.json()
    person = Person.objects.get(first_name=FIRST)
    services.person_update(person=person, emails=[EMAIL], remove_emails=[OLD_EMAIL])
    person.refresh_from_db()
    person.infobip_id = 987654
    person.save(update_fields=["infobip_id"])
    create_row = OutboxEntry.objects.filter(entity=OutboxEntity.PERSON, entity_id=str(person.pk)).first()
    OutboxEntry.objects.filter(pk=create_row.pk).update(status=OutboxStatus.DONE, attempts=1)
    OutboxAttempt.objects.create(entry=create_row, request=f"POST /people/2/persons EMAIL={OLD_EMAIL}", ok=True)

    alias = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, emails=[ALIAS_EMAIL])
    merged = cdp_api.post("/v1/identities/persons/merge", {"survivor": person.pk, "others": [alias.pk]}, format="json")
    assert merged.status_code == 200, merged.json()
    fields = [{"name": "page", "type": "String"}]
    services.event_definition_create(realm=cdp_realm, definition_id="visit", title="Visit", fields=fields)
    services.person_event_record(person=person, definition_id="visit", properties={"page": f"/u/{EMAIL}"})

    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[person], action_flag=CHANGE, change_message=f"Changed email to {EMAIL}"
    )
    content = csv_bytes([["Email", "Phone", "Birth date"], [EMAIL, "091 765 4321", "not a date"]])
    job = import_file(cdp_realm, "people.csv", content)
    assert job.issues.exists()
    SyncRun.objects.create(
        realm=cdp_realm, errors=[{"step": 1, "kind": "conflict", "message": f"{EMAIL} is on two profiles"}]
    )
    from tracking.models import Form, Site, TrackEvent, Visitor

    site = Site.objects.create(realm=cdp_realm, name="Shop", allowed_origins=[SHOP])
    visitor = Visitor.objects.create(site=site, realm=cdp_realm, anonymous_id="anon-zv-1", person=person)
    TrackEvent.objects.create(
        visitor=visitor, person=person, event_id="e1", kind="track", name="signup",
        properties={"email": EMAIL}, occurred_at=person.created,
    )  # fmt: skip

    # A website form sent from the visitor's browser: a customer is left untouched, the submission keeps the fields.
    Form.objects.create(site=site, slug="contact", name="Contact", field_mapping={"mail": "email", "ime": "firstName"})
    fields = {"mail": EMAIL, "ime": FIRST, "prezime": LAST, "poruka": f"Call me on {PHONE}"}
    sent = Client(HTTP_ORIGIN=SHOP).post(
        "/v1/forms/contact/submissions",
        json.dumps({"visitorId": "anon-zv-1", "fields": fields}),
        content_type="application/json",
        HTTP_X_SITE_KEY=site.key,
    )
    assert sent.status_code == 200, sent.json()
    assert sent.json()["outcome"] == "customer"

    # Its phone's app: installed (an empty lead holds the registration), logged in (the lead merged away into it).
    app = {"applicationId": "app-zv", "pushRegistrationId": REGISTRATION}
    installed = cdp_api.post(
        "/v1/mobile/installations", {**app, "data": {"deviceName": f"{FIRST}'s phone"}}, format="json"
    )
    assert installed.status_code == 201, installed.json()
    logged_in = cdp_api.post("/v1/mobile/installations/login", {**app, "email": [EMAIL]}, format="json")
    assert logged_in.status_code == 200, logged_in.json()
    assert (logged_in.json()["outcome"], logged_in.json()["person"]["id"]) == ("customer", person.pk)

    # A chatbot session with it: an event on its timeline.
    chat = {"channel": "CHATBOTS", "event": "SESSION_START", "sessionId": SESSION, "contact": {"email": EMAIL}}
    talked = cdp_api.post("/v1/conversations/events", chat, format="json")
    assert talked.status_code == 200, talked.json()
    assert talked.json()["person"]["id"] == person.pk
    return person, alias


def test_erase_leaves_no_trace_in_any_table(cdp_realm, cdp_api, admin_user, media):
    person, alias = _a_person_with_a_past(cdp_realm, cdp_api, admin_user)
    assert traces_in_database(TRACES)  # the scan finds the person before

    response = cdp_api.post(f"/v1/identities/persons/{person.pk}/erase", HTTP_IDEMPOTENCY_KEY="erase-zv")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["erased"] == person.pk
    assert body["infobip"] == ["id"]
    assert body["counts"]["persons"] == 3  # with the alias and the app installation's lead merged into it
    assert body["counts"]["mergeRecords"] == 2
    assert body["counts"]["importIssues"] >= 1
    assert body["counts"]["visitors"] == 1
    assert body["counts"]["formSubmissions"] == 1
    assert body["counts"]["mobileInstallations"] == 1
    assert body["counts"]["events"] == 2  # the visit and the chatbot session
    assert traces_in_database(TRACES) == []
    assert not Person.objects.filter(pk__in=[person.pk, alias.pk]).exists()
    # What waits in the outbox for Infobip: the delete, by Infobip id, and no personal data.
    pending = OutboxEntry.objects.get(entity=OutboxEntity.PERSON, status=OutboxStatus.PENDING)
    assert (pending.op, pending.entity_id) == (OutboxOp.DELETE, str(person.pk))
    assert pending.payload == {"infobipId": 987654, "externalId": None, "phones": [], "emails": []}
    # The audit row: who erased whom, counts only.
    audit = PersonActivity.objects.get(person_id=person.pk, action="erased")
    assert (audit.actor_kind, audit.actor_label.startswith("shop")) == ("api_key", True)
    assert audit.detail["counts"]["persons"] == 3
    # A repeat with the key replays; without it the person is gone.
    again = cdp_api.post(f"/v1/identities/persons/{person.pk}/erase", HTTP_IDEMPOTENCY_KEY="erase-zv")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").status_code == 404


def test_the_erase_reaches_infobip(cdp_realm, cdp_api, push_settings, infobip_sandbox):
    person = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, emails=[EMAIL])
    drain_all()
    person.refresh_from_db()
    assert person.infobip_id in infobip_sandbox.store.persons

    assert cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").status_code == 200
    drain_all()

    assert person.infobip_id not in infobip_sandbox.store.persons
    assert traces_in_database([EMAIL, FIRST]) == []  # the delivered delete and its call log name no one


def test_a_person_never_pushed_queues_nothing(cdp_realm, cdp_api):
    person = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, emails=[EMAIL])
    body = cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").json()
    assert body["infobip"] == ["none"]
    assert not OutboxEntry.objects.filter(entity=OutboxEntity.PERSON).exists()


def test_an_alias_is_refused_naming_its_survivor(cdp_realm, cdp_api):
    survivor = services.person_create(realm=cdp_realm, attributes={"first_name": "A"}, emails=["a@example.com"])
    alias = services.person_create(realm=cdp_realm, attributes={"first_name": "B"}, emails=["b@example.com"])
    cdp_api.post("/v1/identities/persons/merge", {"survivor": survivor.pk, "others": [alias.pk]}, format="json")
    response = cdp_api.post(f"/v1/identities/persons/{alias.pk}/erase")
    assert response.status_code == 409
    assert f"erase person {survivor.pk}" in response.json()["message"]


def test_other_realms_persons_are_unknown(cdp_api, other_realm):
    foreign = PersonFactory(realm=other_realm)
    assert cdp_api.post(f"/v1/identities/persons/{foreign.pk}/erase").status_code == 404
    assert cdp_api.get(f"/v1/identities/persons/{foreign.pk}/export").status_code == 404
    assert Person.objects.filter(pk=foreign.pk).exists()


def test_export_answers_everything_held(cdp_realm, cdp_api, admin_user, media):
    person, alias = _a_person_with_a_past(cdp_realm, cdp_api, admin_user)
    response = cdp_api.get(f"/v1/identities/persons/{person.pk}/export")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["person"]["id"] == person.pk
    assert data["person"]["firstName"] == FIRST
    installation_lead = Person.objects.get(merged_into=person, origin="PUSH")
    assert sorted(a["id"] for a in data["aliases"]) == [alias.pk, installation_lead.pk]
    emails = [e["address"] for e in data["person"]["contactInformation"]["email"]]
    assert sorted(emails) == [ALIAS_EMAIL, EMAIL]  # the alias's email moved to the survivor with the merge
    assert len(data["mergeRecords"]) == 2
    merge = next(r for r in data["mergeRecords"] if r["absorbed"] == [alias.pk])
    assert merge["snapshots"][1]["emails"] == [ALIAS_EMAIL]
    assert [e["definitionId"] for e in data["events"]] == ["visit", "chatbotSessionStart"]
    assert data["events"][1]["properties"] == {"sessionId": SESSION}
    assert [i["alias"] for i in data["identities"]] == ["holder"]
    actions = [a["action"] for a in data["activity"]]
    assert actions[:2] == ["created", "updated"]
    assert "merged" in actions
    assert data["tracking"]["events"][0]["properties"] == {"email": EMAIL}
    [submission] = data["tracking"]["formSubmissions"]
    assert (submission["form"], submission["visitor"], submission["outcome"]) == ("contact", "anon-zv-1", "customer")
    assert submission["data"] == {"mail": EMAIL, "ime": FIRST, "prezime": LAST, "poruka": f"Call me on {PHONE}"}
    [installation] = data["mobile"]["installations"]
    assert (installation["applicationId"], installation["pushRegistrationId"]) == ("app-zv", REGISTRATION)
    assert installation["data"]["deviceName"] == f"{FIRST}'s phone"
    # the alias's id answers with the survivor's document
    assert cdp_api.get(f"/v1/identities/persons/{alias.pk}/export").json()["person"]["id"] == person.pk


def test_erase_and_export_need_a_key(anon, cdp_realm):
    person = PersonFactory(realm=cdp_realm)
    assert anon.post(f"/v1/identities/persons/{person.pk}/erase").status_code == 401
    assert anon.get(f"/v1/identities/persons/{person.pk}/export").status_code == 401
    assert Person.objects.filter(pk=person.pk).exists()


def test_a_short_external_id_is_not_searched_inside_other_texts(cdp_realm, cdp_api):
    from identities.models import IdempotencyRecord

    body = {"country": "HR", "currency": "EUR", "person": {"firstName": "Abby", "externalId": "abby-1"}}
    assert cdp_api.post("/v1/identities/person", body, format="json", HTTP_IDEMPOTENCY_KEY="abby").status_code == 201
    short = services.person_create(realm=cdp_realm, attributes={"first_name": "X", "external_id": "ab"})
    assert cdp_api.post(f"/v1/identities/persons/{short.pk}/erase").status_code == 200
    assert IdempotencyRecord.objects.filter(key="abby").exists()  # "ab" is inside "Abby": not this person's


def test_a_realm_that_no_longer_pushes_says_infobip_is_unresolved(api, realm):
    person = services.person_create(realm=realm, attributes={"first_name": FIRST}, emails=[EMAIL])
    Person.objects.filter(pk=person.pk).update(infobip_id=4242)  # pushed while the realm still had the extension
    body = api.post(f"/v1/identities/persons/{person.pk}/erase").json()
    assert body["infobip"] == ["unresolved"]
    assert not OutboxEntry.objects.exists()


def test_form_submissions_naming_the_person_go_and_others_stay(cdp_realm, cdp_api):
    from tracking.models import Form, FormSubmission, Site
    from tracking.webforms import form_submit

    site = Site.objects.create(realm=cdp_realm, name="Shop", allowed_origins=[SHOP])
    form = Form.objects.create(site=site, slug="refer", name="Refer", field_mapping={"mail": "email"})
    person = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, emails=[EMAIL])
    mine, _ = form_submit(form=form, payload={"fields": {"mail": EMAIL}})
    # Another lead's submission that names the person in a field no mapping reads: it holds the person's data.
    naming, _ = form_submit(form=form, payload={"fields": {"mail": "friend@example.com", "friend": EMAIL.upper()}})
    other, _ = form_submit(form=form, payload={"fields": {"mail": "friend@example.com", "friend": "nobody"}})
    assert mine.person_id == person.pk
    assert naming.person_id != person.pk

    body = cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").json()

    assert body["counts"]["formSubmissions"] == 2
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [other.pk]


def test_form_submissions_from_the_persons_browser_go_unless_another_person_sent_them(cdp_realm, cdp_api):
    from tracking.models import Form, FormSubmission, Site, Visitor
    from tracking.webforms import form_submit

    site = Site.objects.create(realm=cdp_realm, name="Shop", allowed_origins=[SHOP])
    form = Form.objects.create(site=site, slug="refer", name="Refer", field_mapping={"mail": "email"})
    person = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, emails=[EMAIL])
    Visitor.objects.create(site=site, realm=cdp_realm, anonymous_id="anon-zv-1", person=person)
    customer = services.person_create(realm=cdp_realm, attributes={"type": "CUSTOMER"}, emails=["c@example.com"])
    # A customer's submission from the person's browser: the customer's (a customer is never linked to it).
    theirs, outcome = form_submit(form=form, payload={"visitorId": "anon-zv-1", "fields": {"mail": "c@example.com"}})
    assert (outcome, theirs.person_id) == ("customer", customer.pk)
    # A submission from the person's browser whose sender is not known any more (its profile was deleted).
    orphan = FormSubmission.objects.create(
        form=form, person=None, visitor=theirs.visitor, data={"mail": "gone@example.com"}, outcome="lead"
    )
    export = cdp_api.get(f"/v1/identities/persons/{person.pk}/export").json()
    assert [s["id"] for s in export["tracking"]["formSubmissions"]] == [orphan.pk]

    body = cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").json()

    assert body["counts"]["formSubmissions"] == 1
    theirs.refresh_from_db()
    assert (theirs.person_id, theirs.visitor_id) == (customer.pk, None)  # it stays, without the person's visitor
    assert not FormSubmission.objects.filter(pk=orphan.pk).exists()


def test_staged_import_rows_naming_the_person_go(cdp_realm, cdp_api, media):
    from imports.models import ImportRow
    from tests.imports.helpers import analyze, upload

    person = services.person_create(realm=cdp_realm, attributes={"first_name": FIRST}, phones=[PHONE_DIGITS])
    rows = [["First name", "Phone"], ["Zv", "091 765 4321"], ["Other", "091 111 2222"]]
    job = analyze(upload(cdp_realm, "people.csv", csv_bytes(rows)))  # analysed, not yet imported: rows staged
    assert ImportRow.objects.filter(job=job).count() == 2

    assert cdp_api.post(f"/v1/identities/persons/{person.pk}/erase").status_code == 200

    [left] = ImportRow.objects.filter(job=job)
    assert "Other" in left.data
    assert "917654321" not in left.data
