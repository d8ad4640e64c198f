"""Website forms: POST /v1/forms/<slug>/submissions with the site key creates or updates a lead (seed 002's
Forms rule), never a customer; CORS and key as the tracking API; the mapping is checked in the admin."""

import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from people.models import Person
from tests.people.factories import PersonFactory
from tracking.models import Form, FormSubmission, Site, TrackEvent

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"
MAPPING = {"mail": "email", "tel": "phone", "ime": "firstName", "grad": "city"}


@pytest.fixture
def site(realm):
    return Site.objects.create(realm=realm, name="Shop", allowed_origins=[ORIGIN])


@pytest.fixture
def form(site):
    return Form.objects.create(site=site, slug="newsletter", name="Newsletter", field_mapping=MAPPING, tags=["News"])


@pytest.fixture
def browser():
    return Client(HTTP_ORIGIN=ORIGIN)


def submit(client, site, body, slug="newsletter", key=None):
    return client.post(
        f"/v1/forms/{slug}/submissions",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_SITE_KEY=key or site.key,
    )


def test_a_new_contact_becomes_a_lead_with_the_mapped_fields_and_the_visitors_events(browser, site, form):
    now = timezone.now().isoformat()
    events = [{"id": uuid.uuid4().hex, "type": "page_view", "url": f"{ORIGIN}/{i}", "timestamp": now} for i in range(3)]
    browser.post(
        "/v1/track/events",
        json.dumps({"visitorId": "visitor-0001", "sessionId": "session-0001", "events": events}),
        content_type="application/json",
        HTTP_X_SITE_KEY=site.key,
    )
    response = submit(
        browser,
        site,
        {"visitorId": "visitor-0001", "fields": {"mail": "Nina@Example.com", "ime": "Nina", "grad": "Split", "x": 1}},
    )
    assert response.status_code == 200, response.json()
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response.json()["outcome"] == "created"
    assert set(response.json()) == {"submission", "outcome"}  # the key cannot read the person
    lead = Person.objects.get()
    assert (lead.type, lead.first_name, lead.city, lead.origin) == ("LEAD", "Nina", "Split", "FORMS")
    assert list(lead.tags.values_list("name", flat=True)) == ["News"]
    assert TrackEvent.objects.filter(person=lead).count() == 3
    submission = FormSubmission.objects.get()
    assert (submission.person, submission.data["x"]) == (lead, 1)


def test_an_existing_lead_is_updated_but_never_its_type(browser, site, form, realm):
    lead = PersonFactory(realm=realm, type="LEAD", emails=["nina@example.com"], first_name="Old", city="")
    response = submit(browser, site, {"fields": {"mail": "nina@example.com", "ime": "Nina", "tel": "0912345678"}})
    assert response.json()["outcome"] == "lead"
    lead.refresh_from_db()
    assert (lead.type, lead.first_name) == ("LEAD", "Nina")
    assert list(lead.phones.values_list("number", flat=True)) == ["385912345678"]
    assert Person.objects.count() == 1


def test_a_customer_is_left_untouched_and_its_timeline_not_taken(browser, site, form, realm):
    customer = PersonFactory(realm=realm, type="CUSTOMER", emails=["ivo@example.com"], first_name="Ivo")
    response = submit(browser, site, {"visitorId": "visitor-0002", "fields": {"mail": "ivo@example.com", "ime": "M"}})
    assert response.json()["outcome"] == "customer"
    customer.refresh_from_db()
    assert customer.first_name == "Ivo"
    assert not customer.visitors.exists()
    assert FormSubmission.objects.get().person == customer


def test_refusals_store_nothing(browser, site, form, realm, other_realm):
    cases = [
        (submit(browser, site, {"fields": {"ime": "Nina"}}), 400, "fields"),
        (submit(browser, site, {"fields": {"mail": "a@example.com", "ime": "Ni<na>"}}), 400, "fields.ime"),
        (submit(browser, site, {"fields": {"mail": "not-mail"}}), 400, "fields.mail"),
        (submit(browser, site, {"fields": {"mail": {"a": 1}}}), 400, "fields.mail"),
        (submit(browser, site, {"fields": {"mail": "a@example.com"}, "type": "CUSTOMER"}), 400, "type"),
        (submit(browser, site, {"fields": {"mail": "a@example.com"}}, slug="unknown"), 404, None),
        (submit(browser, site, {"fields": {"mail": "a@example.com"}}, key="cdpsite_nope"), 401, None),
        (submit(Client(HTTP_ORIGIN="https://evil.example"), site, {"fields": {"mail": "a@example.com"}}), 403, None),
    ]
    for response, status, field in cases:
        assert response.status_code == status, response.content
        if field:
            assert field in response.json()["data"]["fields"], response.json()
    other_site = Site.objects.create(realm=other_realm, name="Other", allowed_origins=[ORIGIN])
    assert submit(browser, other_site, {"fields": {"mail": "a@example.com"}}).status_code == 404  # not its form
    assert not Person.objects.exists()
    assert not FormSubmission.objects.exists()
    preflight = Client(HTTP_ORIGIN=ORIGIN).options("/v1/forms/newsletter/submissions")
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN


def test_the_admin_checks_the_mapping(admin_client, site):
    url = "/admin/tracking/form/add/"
    base = {"site": site.pk, "slug": "contact", "name": "Contact", "tags": "[]", "active": "on"}
    refused = admin_client.post(url, {**base, "field_mapping": json.dumps({"ime": "firstName", "t": "type"})})
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "the type is never set by a form" in text
    assert "map at least one field to email" in text
    saved = admin_client.post(url, {**base, "field_mapping": json.dumps({"mail": "email", "ime": "firstName"})})
    assert saved.status_code == 302
    assert Form.objects.get(slug="contact").field_mapping == {"mail": "email", "ime": "firstName"}
    assert admin_client.get("/admin/tracking/formsubmission/").status_code == 200


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"mail": "a@example.com", "grad": "Sp\u0000lit"}, "fields.grad"),
        ({"mail": "a@example.com", "other": "\ud800"}, "fields.other"),
    ],
)
def test_unstorable_text_is_a_400_naming_the_field(browser, site, form, fields, where):
    response = submit(browser, site, {"fields": fields})
    assert response.status_code == 400
    assert where in response.json()["data"]["fields"]
    assert not Person.objects.exists()
