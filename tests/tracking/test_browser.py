"""The snippet in Debian's chromium: a shop page (served by the test, on the live server's origin) loads
/static/cdp-track.js; an anonymous visitor browses, acts, subscribes (→ a lead with those events), logs in as
an existing customer (→ the events join the customer) and logs out (→ a new anonymous visitor)."""

import pytest

from people.models import Person
from tests.people.factories import PersonFactory
from tracking.models import Site, TrackEvent, Visitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP = """<!doctype html><html><head><title>Shop {n}</title>
<script src="/static/cdp-track.js" data-site-key="{key}" defer></script></head>
<body><h1>Page {n}</h1><form id="news"><input id="email" value="new@example.com"></form></body></html>"""
QUEUE_EMPTY = "() => window.cdp && JSON.parse(localStorage.getItem('cdp.queue') || '[]').length === 0"


def _serve_shop(page, key):
    def fulfill(route):
        n = route.request.url.rstrip("/").rsplit("/", 1)[-1]
        route.fulfill(status=200, content_type="text/html", body=SHOP.format(n=n, key=key))

    page.route("**/shop/*", fulfill)


def test_visitor_journey_in_chromium(page, live_server, realm):
    site = Site.objects.create(realm=realm, name="Shop", allowed_origins=[live_server.url])
    customer = PersonFactory(realm=realm, type="CUSTOMER", emails=["ivo@example.com"], first_name="Ivo")
    _serve_shop(page, site.key)

    for n in (1, 2, 3):
        page.goto(f"/shop/{n}")
        page.wait_for_function(QUEUE_EMPTY)
    page.evaluate("cdp.track('added_to_cart', {sku: 'A-1'})")
    page.wait_for_function(QUEUE_EMPTY)
    first_visitor = page.evaluate("cdp.visitorId()")
    assert TrackEvent.objects.filter(visitor__anonymous_id=first_visitor).count() == 4

    outcome = page.evaluate(
        "cdp.identify({email: document.getElementById('email').value, attributes: {firstName: 'Nina'}})"
    )
    assert outcome == {"identified": "created"}
    lead = Person.objects.get(emails__address="new@example.com")
    assert lead.type == "LEAD"
    names = list(TrackEvent.objects.filter(person=lead).values_list("name", flat=True))
    assert names == ["page_view", "page_view", "page_view", "added_to_cart"]  # in order, no duplicates

    token = site.identity_token("email", "ivo@example.com")  # what the shop's backend puts in the login page
    login = "t => cdp.identify({email: 'ivo@example.com', attributes: {firstName: 'Mallory'}, token: t})"
    assert page.evaluate(login, token) == {"identified": "customer"}
    assert TrackEvent.objects.filter(person=customer).count() == 4
    customer.refresh_from_db()
    assert customer.first_name == "Ivo"

    second_visitor = page.evaluate("cdp.logout()")
    assert second_visitor != first_visitor
    page.goto("/shop/4")
    page.wait_for_function(QUEUE_EMPTY)
    fresh = Visitor.objects.get(anonymous_id=second_visitor)
    assert fresh.person_id is None
    assert fresh.events.count() == 1
    errors = [m for m in page.console_messages if m.startswith(("error", "pageerror"))]
    assert not errors
