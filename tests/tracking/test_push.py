"""Tracked website events reach the person's Infobip timeline through the outbox (real HTTP to the sandbox), with
our event ids: in order, once however often the push is repeated; the journey's merges and conversions go
through the same outbox."""

import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from infobip.models import OutboxEntry, OutboxStatus
from people import services as people
from people.models import Person
from tests.infobip.conftest import drain_all, push_settings  # noqa: F401 (push_settings: a fixture)
from tracking import mobile
from tracking.models import Site, TrackEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("push_settings")]
ORIGIN = "https://shop.example.com"


@pytest.fixture
def site(cdp_realm):
    return Site.objects.create(realm=cdp_realm, name="Shop", allowed_origins=[ORIGIN])


def post(site, path, body):
    response = Client(HTTP_ORIGIN=ORIGIN).post(
        path, json.dumps(body), content_type="application/json", HTTP_X_SITE_KEY=site.key
    )
    assert response.status_code == 200, response.content
    return response.json()


def events(n, **extra):
    base = timezone.now() - timezone.timedelta(minutes=10)
    return [
        {"id": uuid.uuid4().hex, "type": "page_view", "url": f"{ORIGIN}/{i}",
         "timestamp": (base + timezone.timedelta(seconds=i)).isoformat(), **extra}
        for i in range(n)
    ]  # fmt: skip


def infobip_events(sandbox, person):
    person.refresh_from_db()
    return [(e["eventId"], e["definitionId"]) for e in sandbox.store.events.get(person.infobip_id, [])]


def test_identified_visitors_events_reach_infobip_once_and_follow_a_login(cdp_realm, site, infobip_sandbox):
    visit = {"visitorId": "visitor-0001", "sessionId": "session-0001"}
    post(site, "/v1/track/events", {**visit, "events": events(3)})
    action = {"id": uuid.uuid4().hex, "type": "action", "name": "added_to_cart", "properties": {"sku": "A-1"},
              "timestamp": timezone.now().isoformat()}  # fmt: skip
    post(site, "/v1/track/events", {**visit, "events": [action]})
    assert not OutboxEntry.objects.filter(entity="event").exists()  # anonymous: nothing to push
    assert post(site, "/v1/track/identify", {"visitorId": "visitor-0001", "email": "nina@example.com"}) == {
        "identified": "created"
    }
    drain_all()
    lead = Person.objects.get(emails__address="nina@example.com")
    ours = [f"trk-{pk}" for pk in TrackEvent.objects.order_by("occurred_at", "id").values_list("pk", flat=True)]
    assert infobip_events(infobip_sandbox, lead) == [
        (ours[0], "webPageView"), (ours[1], "webPageView"), (ours[2], "webPageView"), (ours[3], "webAction"),
    ]  # fmt: skip
    sent = infobip_sandbox.store.events[lead.infobip_id][3]
    assert json.loads(sent["properties"]["properties"]) == {"sku": "A-1"}
    assert {"webPageView", "webAction"} <= set(infobip_sandbox.store.definitions)

    # Later events of the identified visitor follow; a repeated push (as after a crash) adds nothing.
    post(site, "/v1/track/events", {**visit, "events": events(1)})
    drain_all()
    assert len(infobip_events(infobip_sandbox, lead)) == 5
    OutboxEntry.objects.filter(entity="event").update(status=OutboxStatus.PENDING)
    drain_all()
    assert len(infobip_events(infobip_sandbox, lead)) == 5
    assert infobip_sandbox.stats()["effects"]["events_deduplicated"] >= 5

    # The visitor logs in as an existing customer (signed): its events join the customer's Infobip timeline.
    customer = people.person_create(realm=cdp_realm, attributes={"type": "CUSTOMER"}, emails=["ivo@example.com"])
    token = site.identity_token("email", "ivo@example.com")
    login = {"visitorId": "visitor-0001", "email": "ivo@example.com", "token": token}
    assert post(site, "/v1/track/identify", login) == {"identified": "customer"}
    drain_all()
    assert [e for e, _ in infobip_events(infobip_sandbox, customer)] == [
        f"trk-{pk}" for pk in TrackEvent.objects.order_by("occurred_at", "id").values_list("pk", flat=True)
    ]
    assert not OutboxEntry.objects.exclude(status=OutboxStatus.DONE).exists()


def test_a_mobile_login_merge_and_conversion_reach_infobip(cdp_realm, infobip_sandbox):
    lead = people.person_create(realm=cdp_realm, attributes={"type": "LEAD"}, emails=["ana@example.com"])
    holder, _ = mobile.installation_register(realm=cdp_realm, application_id="app-1", registration_id="reg-1")
    drain_all()
    lead.refresh_from_db()
    lead_infobip_id = lead.infobip_id
    assert lead_infobip_id in infobip_sandbox.store.persons
    person, outcome = mobile.installation_login(
        realm=cdp_realm, application_id="app-1", registration_id="reg-1", emails=["ana@example.com"]
    )
    assert outcome == "lead_merged"
    drain_all()
    person.refresh_from_db()
    remote = infobip_sandbox.store.persons[person.infobip_id]
    assert remote["type"] == "CUSTOMER"
    assert lead_infobip_id not in infobip_sandbox.store.persons  # merged away in Infobip too
    assert not OutboxEntry.objects.exclude(status=OutboxStatus.DONE).exists()
    assert person.pk == holder.pk
