"""Every ModelAdmin: changelist, search, add form and change form render for a superuser."""

import pytest
from django.contrib import admin
from django.urls import reverse

from infobip.models import OutboxAttempt, OutboxEntry, SyncRun
from tests.companies.factories import CompanyFactory
from tests.identities.factories import ApiKeyFactory, IdentityFactory, RealmMemberFactory
from tests.people.factories import (
    ChannelProfileFactory,
    CustomAttributeDefinitionFactory,
    PersonEventFactory,
    PersonFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_each(realm):
    person = PersonFactory(realm=realm, phones=["385991234567"], emails=["jane@example.com"], tags=["VIP"])
    company = CompanyFactory(realm=realm, name="Orangepill")
    ChannelProfileFactory(person=person)
    PersonEventFactory(person=person)
    CustomAttributeDefinitionFactory(realm=realm, name="Store")
    TagFactory(realm=realm, name="Other")
    IdentityFactory(realm=realm, person=person, company=company)
    ApiKeyFactory(realm=realm)
    RealmMemberFactory(realm=realm)
    entry = OutboxEntry.objects.create(realm=realm, entity="person", entity_id=str(person.pk), op="create")
    OutboxAttempt.objects.create(entry=entry, status_code=500, error="boom")
    SyncRun.objects.create(realm=realm)
    return person


REGISTERED = sorted((model._meta.app_label, model._meta.model_name) for model in admin.site._registry)


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_admin_pages_render(admin_client, one_of_each, app_label, model_name):
    model = next(m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == (app_label, model_name))
    model_admin = admin.site._registry[model]
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist, {"q": "jane"}).status_code == 200
    request = admin_client.get(changelist).wsgi_request
    if model_admin.has_add_permission(request):
        assert admin_client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]))
        assert response.status_code == 200


def test_dashboard_shows_counts_chart_and_latest_changes(admin_client, one_of_each):
    response = admin_client.get(reverse("admin:index"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="realm-counts"' in html
    assert "Acme" in html
    assert "<svg" in html
    assert "Persons added per day" in html
    assert str(one_of_each) in html
