"""The person's admin page shows its tracked website events (an include); the tracking admin pages load."""

import pytest
from django.utils import timezone

from tests.people.factories import PersonFactory
from tracking.models import Site, TrackEvent, Visitor, VisitSession

pytestmark = pytest.mark.django_db


def test_the_person_page_shows_its_website_activity_newest_first(admin_client, realm):
    person = PersonFactory(realm=realm, type="LEAD", emails=["nina@example.com"])
    site = Site.objects.create(realm=realm, name="Shop", allowed_origins=["https://shop.example.com"])
    visitor = Visitor.objects.create(site=site, realm=realm, anonymous_id="visitor-0001", person=person)
    now = timezone.now()
    session = VisitSession.objects.create(visitor=visitor, session_id="session-0001", started_at=now, last_event_at=now)
    for n, name in enumerate(["page_view", "page_view", "added_to_cart"]):
        TrackEvent.objects.create(
            visitor=visitor, session=session, person=person, event_id=f"event-000{n}", name=name,
            kind="action" if n == 2 else "page_view", url=f"https://shop.example.com/p{n}",
            occurred_at=now - timezone.timedelta(minutes=10 - n),
        )  # fmt: skip
    stranger = PersonFactory(realm=realm)
    response = admin_client.get(f"/admin/people/person/{person.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="website-activity"' in html
    assert html.count('class="track-event"') == 3
    assert html.index("added_to_cart") < html.index("https://shop.example.com/p0")  # newest first
    assert "3 events." in html
    empty = admin_client.get(f"/admin/people/person/{stranger.pk}/change/").content.decode()
    assert "No website activity recorded." in empty
    listing = admin_client.get(f"/admin/tracking/trackevent/?person__id__exact={person.pk}")
    assert listing.status_code == 200
    assert listing.content.decode().count("visitor-0001") >= 3


@pytest.mark.parametrize("model", ["site", "visitor", "form", "formsubmission", "trackevent"])
def test_tracking_admin_pages_load(admin_client, model):
    assert admin_client.get(f"/admin/tracking/{model}/").status_code == 200
