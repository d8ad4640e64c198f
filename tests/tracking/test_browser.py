"""The snippet in Debian's chromium: a shop page (served by the test, on the live server's origin) loads
/static/cdp-track.js; an anonymous visitor browses, acts, submits a form (→ a lead with those events, on its
admin page), logs in as an existing customer (→ the events join the customer) and logs out (→ a new anonymous
visitor). Offline, events wait in the queue and go once the browser is back online."""

import pytest

from people.models import Person
from tests.people.factories import PersonFactory
from tracking.models import Form, FormSubmission, Site, TrackEvent, Visitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP = """<!doctype html><html><head><title>Shop {n}</title>
<script src="/static/cdp-track.js" data-site-key="{key}" defer></script></head>
<body><h1>Page {n}</h1>
<form id="news" data-cdp-form="newsletter" onsubmit="event.preventDefault()">
  <input name="mail" id="email" value="new@example.com"><input name="ime" value="Nina">
  <input type="password" name="pw" value="secret"><button id="subscribe">Subscribe</button>
</form></body></html>"""
QUEUE_EMPTY = "() => window.cdp && JSON.parse(localStorage.getItem('cdp.queue') || '[]').length === 0"


def _serve_shop(page, key):
    def fulfill(route):
        n = route.request.url.rstrip("/").rsplit("/", 1)[-1]
        route.fulfill(status=200, content_type="text/html", body=SHOP.format(n=n, key=key))

    page.route("**/shop/*", fulfill)


def _browse(page, n):
    page.goto(f"/shop/{n}")
    page.wait_for_function(QUEUE_EMPTY)


def test_visitor_journey_in_chromium(admin_page, live_server, realm):
    page = admin_page
    site = Site.objects.create(realm=realm, name="Shop", allowed_origins=[live_server.url])
    Form.objects.create(
        site=site, slug="newsletter", name="Newsletter", field_mapping={"mail": "email", "ime": "firstName"}
    )
    customer = PersonFactory(realm=realm, type="CUSTOMER", emails=["ivo@example.com"], first_name="Ivo")
    _serve_shop(page, site.key)

    for n in (1, 2, 3):
        _browse(page, n)
    page.evaluate("cdp.track('added_to_cart', {sku: 'A-1'})")
    page.wait_for_function(QUEUE_EMPTY)
    first_visitor = page.evaluate("cdp.visitorId()")
    assert TrackEvent.objects.filter(visitor__anonymous_id=first_visitor).count() == 4

    page.click("#subscribe")  # the page's own form: the snippet sends it as the newsletter's submission
    page.wait_for_function("() => cdp.submitted.length === 1")
    assert page.evaluate("cdp.submitted[0].outcome") == "created"
    lead = Person.objects.get(emails__address="new@example.com")
    assert (lead.type, lead.first_name, lead.origin) == ("LEAD", "Nina", "FORMS")
    assert "pw" not in FormSubmission.objects.get().data  # password inputs are never sent
    names = list(TrackEvent.objects.filter(person=lead).values_list("name", flat=True))
    assert names == ["page_view", "page_view", "page_view", "added_to_cart"]  # in order, no duplicates

    page.goto(f"/admin/people/person/{lead.pk}/change/")
    rows = page.locator("#website-activity tr.track-event")
    assert rows.count() == 4
    assert "added_to_cart" in rows.first.inner_text()  # newest first

    _browse(page, 4)  # the identified visitor's later events go to the lead
    assert TrackEvent.objects.filter(person=lead).count() == 5
    token = site.identity_token("email", "ivo@example.com")  # what the shop's backend puts in the login page
    login = "t => cdp.identify({email: 'ivo@example.com', attributes: {firstName: 'Mallory'}, token: t})"
    assert page.evaluate(login, token) == {"identified": "customer"}
    assert TrackEvent.objects.filter(person=customer).count() == 5
    customer.refresh_from_db()
    assert customer.first_name == "Ivo"

    second_visitor = page.evaluate("cdp.logout()")
    assert second_visitor != first_visitor
    _browse(page, 5)
    fresh = Visitor.objects.get(anonymous_id=second_visitor)
    assert fresh.person_id is None
    assert fresh.events.count() == 1
    errors = [m for m in page.console_messages if m.startswith(("error", "pageerror"))]
    assert not errors


def test_offline_events_wait_in_the_queue_and_go_once_online(page, live_server, realm):
    site = Site.objects.create(realm=realm, name="Shop", allowed_origins=[live_server.url])
    _serve_shop(page, site.key)
    _browse(page, 1)
    page.context.set_offline(True)
    page.evaluate("cdp.track('offline_one'); cdp.track('offline_two')")
    page.wait_for_function("() => cdp.state().failures > 0")  # a send was tried and failed
    assert page.evaluate("cdp.state().queued") == 2
    assert not TrackEvent.objects.filter(name__startswith="offline").exists()
    page.context.set_offline(False)
    page.wait_for_function(QUEUE_EMPTY)
    names = sorted(TrackEvent.objects.filter(name__startswith="offline").values_list("name", flat=True))
    assert names == ["offline_one", "offline_two"]
    assert not [m for m in page.console_messages if m.startswith("pageerror")]  # the page never broke
