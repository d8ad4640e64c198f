"""Realm membership from the user's side: the Django user page carries it, and it is what a staff user sees."""

import pytest
from django.urls import reverse

from identities.models import RealmMember
from tests.identities.factories import StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

PREFIX = "realm_memberships"


def user_post(user, **extra):
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-12-01",
        "date_joined_1": "10:00:00",
        "user_permissions": [str(pk) for pk in user.user_permissions.values_list("pk", flat=True)],
        f"{PREFIX}-TOTAL_FORMS": "1",
        f"{PREFIX}-INITIAL_FORMS": "0",
        f"{PREFIX}-MIN_NUM_FORMS": "0",
        f"{PREFIX}-MAX_NUM_FORMS": "1000",
        **extra,
    }


def test_realm_membership_is_granted_on_the_user_page_and_scopes_what_staff_see(
    admin_client, client, realm, other_realm
):
    mine = PersonFactory(realm=realm, first_name="Mine")
    PersonFactory(realm=other_realm, first_name="Theirs")
    user = StaffUserFactory(permissions=["people.view_person"])
    change = reverse("admin:auth_user_change", args=[user.pk])

    page = admin_client.get(change).content.decode()
    assert "Realm memberships (the realms this user sees; superusers see every realm)" in page
    assert f'name="{PREFIX}-__prefix__-realm"' in page

    client.force_login(user)
    assert "none yet: ask an administrator" in client.get(reverse("admin:index")).content.decode()

    response = admin_client.post(change, user_post(user, **{f"{PREFIX}-0-realm": str(realm.pk)}))
    assert response.status_code == 302, response.context and response.context["adminform"].errors
    assert list(RealmMember.objects.filter(user=user).values_list("realm__name", flat=True)) == ["Acme"]

    dashboard = client.get(reverse("admin:index")).content.decode()
    assert "You see the realm\n  Acme." in dashboard
    persons = client.get(reverse("admin:people_person_changelist"))
    assert [p.pk for p in persons.context["cl"].result_list] == [mine.pk]
    assert client.get(reverse("admin:people_person_change", args=[mine.pk])).status_code == 200

    users = admin_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert '<td class="field-realms">Acme</td>' in users
