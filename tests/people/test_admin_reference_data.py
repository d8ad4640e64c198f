import pytest
from django.urls import reverse

from infobip.models import OutboxEntry
from people.models import CustomAttributeDefinition, EventDefinition

pytestmark = pytest.mark.django_db


def test_custom_attribute_definition_errors_come_from_the_service(admin_client, realm):
    url = reverse("admin:people_customattributedefinition_add")
    response = admin_client.post(url, {"realm": realm.pk, "name": "a{b}", "data_type": "STRING", "object_schema": "{}"})
    assert response.status_code == 200
    assert "contains the forbidden character" in response.content.decode()
    response = admin_client.post(
        url, {"realm": realm.pk, "name": "Cart", "data_type": "LIST_OF_OBJECTS", "object_schema": "{}"}
    )
    assert "LIST_OF_OBJECTS needs an object schema" in response.content.decode()
    assert not CustomAttributeDefinition.objects.exists()


def test_custom_attribute_definition_is_created_once(admin_client, cdp_realm):
    url = reverse("admin:people_customattributedefinition_add")
    response = admin_client.post(
        url, {"realm": cdp_realm.pk, "name": "Store", "data_type": "STRING", "object_schema": "{}"}
    )
    assert response.status_code == 302
    assert CustomAttributeDefinition.objects.filter(name="Store").count() == 1
    assert OutboxEntry.objects.filter(entity="custom_attribute", entity_id="Store").count() == 1


def test_event_definition_update_refuses_removing_a_field(admin_client, realm):
    add = reverse("admin:people_eventdefinition_add")
    fields = '[{"name": "total", "type": "Decimal"}]'
    data = {"realm": realm.pk, "definition_id": "purchase", "title": "Purchase", "description": "", "fields": fields}
    assert admin_client.post(add, data).status_code == 302
    definition = EventDefinition.objects.get()
    change = reverse("admin:people_eventdefinition_change", args=[definition.pk])
    response = admin_client.post(change, {"title": "Purchase", "description": "", "fields": "[]"})
    assert response.status_code == 200
    assert "cannot be removed" in response.content.decode()
    definition.refresh_from_db()
    assert definition.fields == [{"name": "total", "type": "Decimal"}]
