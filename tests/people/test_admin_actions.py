"""The person changelist's bulk actions: a confirmation page first, then the change through the services (outbox
rows written), permission-checked; exports stream the selection."""

import csv
import io

import pytest
from django.urls import reverse

from infobip.models import OutboxEntry
from tests.companies.factories import CompanyFactory
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:people_person_changelist")


@pytest.fixture
def crowd(cdp_realm):
    return [PersonFactory(realm=cdp_realm, tags=["Old"], emails=[f"p{n}@example.com"]) for n in range(3)]


def run(client, action, persons, **form):
    data = {"action": action, "_selected_action": [p.pk for p in persons], **form}
    return client.post(CHANGELIST, data)


def tags_of(person):
    return sorted(person.tags.values_list("name", flat=True))


def test_add_tag_confirms_first_then_tags_through_the_service(admin_client, crowd):
    response = run(admin_client, "bulk_add_tag", crowd[:2])
    assert response.status_code == 200
    assert response.templates[0].name == "admin/people/person/bulk_action.html"
    assert response.context["count"] == 2
    assert tags_of(crowd[0]) == ["Old"]

    response = run(admin_client, "bulk_add_tag", crowd[:2], apply="yes", tag="VIP")
    assert response.status_code == 302
    assert [tags_of(p) for p in crowd] == [["Old", "VIP"], ["Old", "VIP"], ["Old"]]
    assert OutboxEntry.objects.filter(entity="person", op="update").count() == 2


def test_remove_tag_set_type_and_company(admin_client, cdp_realm, crowd):
    run(admin_client, "bulk_remove_tag", crowd, apply="yes", tag="old")
    assert [tags_of(p) for p in crowd] == [[], [], []]
    type(crowd[0]).objects.filter(pk=crowd[0].pk).update(type="LEAD")
    run(admin_client, "bulk_set_type", crowd[:1], apply="yes", type="CUSTOMER")
    crowd[0].refresh_from_db()
    assert crowd[0].type == "CUSTOMER"
    run(admin_client, "bulk_set_type", crowd[:1], apply="yes", type="LEAD")  # a Customer never becomes a Lead
    crowd[0].refresh_from_db()
    assert crowd[0].type == "CUSTOMER"
    company = CompanyFactory(realm=cdp_realm)
    run(admin_client, "bulk_set_company", crowd[1:], apply="yes", company=company.pk)
    assert [p.company_id for p in type(crowd[0]).objects.order_by("pk")] == [None, company.pk, company.pk]


def test_push_again_queues_every_selected_person(admin_client, crowd):
    run(admin_client, "bulk_push_again", crowd, apply="yes")
    assert OutboxEntry.objects.filter(entity="person", op="create").count() == 3


def test_export_streams_the_selection(admin_client, crowd):
    response = run(admin_client, "bulk_export_csv", crowd[:2])
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [int(row["id"]) for row in table] == [crowd[0].pk, crowd[1].pk]


def test_actions_need_the_change_permission(client, cdp_realm, crowd):
    user = StaffUserFactory(permissions=["people.view_person"])
    RealmMemberFactory(realm=cdp_realm, user=user)
    client.force_login(user)
    run(client, "bulk_add_tag", crowd, apply="yes", tag="VIP")
    assert [tags_of(p) for p in crowd] == [["Old"]] * 3
    response = run(client, "bulk_export_csv", crowd[:1])
    assert response.status_code == 200
    assert len(b"".join(response.streaming_content).splitlines()) == 2
