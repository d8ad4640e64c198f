"""Saved segments in the admin: built with the form (no filter typed by hand), counted live, a filter of the
person changelist, exported; realm-scoped."""

import json

import pytest
from django.urls import reverse

from people import segments
from people.models import Segment
from tests.identities.factories import RealmFactory, RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
ADD = reverse("admin:people_segment_add")
COUNT = reverse("admin:people_segment_count")
PERSONS = reverse("admin:people_person_changelist")


def builder(realm, *conditions, match="all", name="VIPs in Zagreb"):
    data = {"realm": realm.pk, "name": name, "match": match}
    for row, (field, op, value) in enumerate(conditions):
        data.update({f"cond_{row}_field": field, f"cond_{row}_op": op, f"cond_{row}_value": value})
    return data


@pytest.fixture
def crowd(realm):
    return [
        PersonFactory(realm=realm, city="Zagreb", tags=["VIP"], first_name="Ana"),
        PersonFactory(realm=realm, city="Zagreb", first_name="Bo"),
        PersonFactory(realm=realm, city="Split", tags=["VIP"], first_name="Cy"),
    ]


def test_a_segment_built_in_the_form_is_saved_in_infobips_language(admin_client, realm, crowd):
    data = builder(realm, ("city", "#eq", "Zagreb"), ("tags", "#contains", "VIP"))
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    segment = Segment.objects.get()
    assert json.loads(segment.filter) == {"#and": [{"#eq": {"city": "Zagreb"}}, {"#contains": {"tags": "VIP"}}]}
    assert segments.segment_count(segment) == 1
    page = admin_client.get(reverse("admin:people_segment_change", args=[segment.pk]))
    form = page.context["adminform"].form
    assert (form["cond_1_field"].value(), form["cond_1_op"].value(), form["cond_1_value"].value()) == (
        "tags", "#contains", "VIP",
    )  # fmt: skip
    assert 'id="segment-live-count"' in page.content.decode()
    listing = admin_client.get(reverse("admin:people_segment_changelist")).content.decode()
    assert "VIPs in Zagreb" in listing


def test_any_and_a_number(admin_client, realm, crowd):
    data = builder(realm, ("city", "#eq", "Split"), ("id", "#lte", str(crowd[0].pk)), match="any")
    assert admin_client.post(ADD, data).status_code == 302
    filter_ = json.loads(Segment.objects.get().filter)
    assert filter_ == {"#or": [{"#eq": {"city": "Split"}}, {"#lte": {"id": crowd[0].pk}}]}


def test_an_operator_that_does_not_fit_its_field_is_refused(admin_client, realm):
    response = admin_client.post(ADD, builder(realm, ("tags", "#startsWith", "V")))
    assert response.status_code == 200
    assert "does not apply to tags" in str(response.context["adminform"].form.non_field_errors())
    assert not Segment.objects.exists()
    response = admin_client.post(ADD, builder(realm, ("id", "#gt", "many")))
    assert "is not a number" in str(response.context["adminform"].form.non_field_errors())
    response = admin_client.post(ADD, builder(realm))
    assert "add at least one condition" in str(response.context["adminform"].form.non_field_errors())


def test_the_live_count_follows_the_conditions(admin_client, realm, crowd):
    params = builder(realm, ("city", "#eq", "Zagreb"))
    assert admin_client.get(COUNT, params).json() == {"count": 2, "filter": {"#eq": {"city": "Zagreb"}}}
    params = builder(realm, ("city", "#eq", "Zagreb"), ("tags", "#notContain", "VIP"))
    assert admin_client.get(COUNT, params).json()["count"] == 1
    assert "does not apply" in admin_client.get(COUNT, builder(realm, ("tags", "#gt", "1"))).json()["error"]


def test_a_segment_filters_the_person_changelist(admin_client, realm, crowd):
    segment = segments.segment_create(realm=realm, name="Z", filter_raw='{"city": "Zagreb"}')
    response = admin_client.get(PERSONS, {"segment": segment.pk})
    shown = {p.pk for p in response.context["cl"].result_list}
    assert shown == {crowd[0].pk, crowd[1].pk}
    assert "Z" in [choice["display"] for spec in response.context["cl"].filter_specs
                   if spec.title == "segment" for choice in spec.choices(response.context["cl"])]  # fmt: skip


def test_a_segment_is_exported_from_its_list(admin_client, realm, crowd):
    segment = segments.segment_create(realm=realm, name="VIP", filter_raw='{"#contains": {"tags": "VIP"}}')
    response = admin_client.post(
        reverse("admin:people_segment_changelist"), {"action": "export_segment_csv", "_selected_action": [segment.pk]}
    )
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 3  # the header and two persons
    assert {line.split(",")[3] for line in lines[1:]} == {"Ana", "Cy"}


def test_segments_stay_in_their_realm(client, realm, crowd):
    other = RealmFactory(name="Other")
    theirs = segments.segment_create(realm=other, name="Theirs", filter_raw='{"city": "Zagreb"}')
    user = StaffUserFactory(permissions=["people.view_segment", "people.add_segment", "people.view_person"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    assert client.get(reverse("admin:people_segment_change", args=[theirs.pk])).status_code == 302  # not found
    assert client.get(COUNT, builder(other, ("city", "#eq", "Zagreb"))).json() == {"error": "choose a realm"}
    assert client.get(PERSONS, {"segment": theirs.pk}).context["cl"].result_list.count() == 0
    assert client.post(ADD, builder(other, ("city", "#eq", "Zagreb"), name="Sneaky")).status_code == 200
    assert not Segment.objects.filter(name="Sneaky").exists()
