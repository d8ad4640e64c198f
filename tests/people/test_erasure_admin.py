"""The admin's GDPR erase action (permission people.erase_person, a confirmation page, at most ERASE_MAX at a
time) and the person page's activity history."""

import pytest
from django.urls import reverse

from people.admin_actions import ERASE_MAX
from people.models import Person, PersonActivity
from tests.api_support import api_client
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:people_person_changelist")


def erase(client, persons, **form):
    data = {"action": "bulk_erase", "_selected_action": [p.pk for p in persons], **form}
    return client.post(CHANGELIST, data)


def test_erase_confirms_then_erases_and_the_audit_names_the_staff_user(admin_client, admin_user, cdp_realm):
    crowd = [PersonFactory(realm=cdp_realm, emails=[f"e{n}@example.com"]) for n in range(3)]
    response = erase(admin_client, crowd[:2])
    assert response.status_code == 200
    assert response.templates[0].name == "admin/people/person/bulk_action.html"
    assert Person.objects.count() == 3
    response = erase(admin_client, crowd[:2], apply="yes")  # the confirmation box is required
    assert response.status_code == 200
    assert Person.objects.count() == 3

    response = erase(admin_client, crowd[:2], apply="yes", confirm="on")

    assert response.status_code == 302
    assert list(Person.objects.values_list("pk", flat=True)) == [crowd[2].pk]
    audits = PersonActivity.objects.filter(action="erased").order_by("person_id")
    assert [(a.person_id, a.actor_kind, a.actor_label) for a in audits] == [
        (crowd[0].pk, "admin", admin_user.username), (crowd[1].pk, "admin", admin_user.username),
    ]  # fmt: skip


def test_erase_needs_its_own_permission(client, cdp_realm):
    person = PersonFactory(realm=cdp_realm)
    user = StaffUserFactory(permissions=["people.view_person", "people.change_person", "people.delete_person"])
    RealmMemberFactory(realm=cdp_realm, user=user)
    client.force_login(user)
    response = erase(client, [person], apply="yes", confirm="on")
    assert Person.objects.filter(pk=person.pk).exists()
    assert "bulk_erase" not in response.content.decode()  # not even offered

    user.user_permissions.add(*_perm("erase_person"))
    erase(client, [person], apply="yes", confirm="on")
    assert not Person.objects.filter(pk=person.pk).exists()


def _perm(codename):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename=codename, content_type__app_label="people")


def test_more_than_the_cap_is_refused(admin_client, cdp_realm, monkeypatch):
    monkeypatch.setattr("people.admin_actions.ERASE_MAX", 2)
    crowd = [PersonFactory(realm=cdp_realm) for _ in range(3)]
    response = erase(admin_client, crowd, apply="yes", confirm="on")
    assert response.status_code == 302
    assert Person.objects.count() == 3
    assert ERASE_MAX == 100


def test_the_person_page_shows_who_changed_what(admin_client, admin_user, realm, api_key):
    """An API create records its key, an admin bulk action the staff user; the page lists both, newest first."""
    api = api_client(api_key.plain)
    body = {"country": "HR", "currency": "EUR", "person": {"firstName": "Ana", "city": "Split"}}
    assert api.post("/v1/identities/person", body, format="json").status_code == 201
    person = Person.objects.get(first_name="Ana")
    data = {"action": "bulk_add_tag", "_selected_action": [person.pk], "apply": "yes", "tag": "VIP"}
    assert admin_client.post(CHANGELIST, data).status_code == 302

    rows = list(PersonActivity.objects.filter(person_id=person.pk).order_by("id"))
    assert [(r.action, r.actor_kind, r.fields) for r in rows] == [
        ("created", "api_key", ["city", "firstName"]), ("updated", "admin", ["tags"]),
    ]  # fmt: skip
    assert rows[0].actor_id == str(api_key.pk)
    assert rows[1].actor_label == admin_user.username
    html = admin_client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert 'id="person-activity"' in html
    assert html.count('class="activity-row"') == 2
    assert html.index(f"Staff user: {admin_user.username}") < html.index("API key: ")
