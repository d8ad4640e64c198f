"""Writes under races (issue 15, item 5): real threads, each with its own client and database connection, sent
together through a barrier. One winner; the others a clear 404/409 (or the idempotent result); never a 500;
one outbox row."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from companies.models import Company
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
from people.models import CustomAttributeDefinition, Person, Tag
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory, TagFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _pushing_realm(realm, settings):
    """The realm pushes to Infobip (so changes write outbox rows); nothing drains them in these tests."""
    settings.INFOBIP_OUTBOX_AUTODRAIN = False
    realm.cdp_enabled = True
    realm.save(update_fields=["cdp_enabled"])


def race(key: str, count: int, method: str, path: str, body=None) -> Counter:
    """`count` threads send the same request at once; the statuses they got."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        client = APIClient(raise_request_exception=False)
        try:
            barrier.wait(timeout=30)
            response = client.generic(
                method, path, "" if body is None else json.dumps(body),
                content_type="application/json", HTTP_X_API_KEY=key,
            )  # fmt: skip
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == count
    return Counter(statuses)


def deletes(entity: str) -> int:
    return OutboxEntry.objects.filter(entity=entity, op=OutboxOp.DELETE).count()


def test_thirty_deletes_of_an_identitys_person_one_winner(realm, api_key):
    person = PersonFactory(realm=realm)
    identity = IdentityFactory(realm=realm, person=person)
    statuses = race(api_key.plain, 30, "DELETE", f"/v1/identities/{identity.pk}/person")
    assert statuses[200] + statuses[204] == 1, statuses
    assert set(statuses) <= {200, 204, 404}, statuses
    assert not Person.objects.filter(pk=person.pk).exists()
    assert deletes(OutboxEntity.PERSON) == 1


def test_parallel_deletes_of_a_company_one_200_one_outbox_row(realm, api_key):
    company = CompanyFactory(realm=realm)
    statuses = race(api_key.plain, 10, "DELETE", f"/v1/identities/companies/{company.pk}")
    assert statuses == Counter({200: 1, 404: 9}), statuses
    assert not Company.objects.exists()
    assert deletes(OutboxEntity.COMPANY) == 1


def test_parallel_deletes_of_a_tag_one_200_one_outbox_row(realm, api_key):
    TagFactory(realm=realm, name="VIP")
    statuses = race(api_key.plain, 10, "DELETE", "/v1/identities/tags/VIP")
    assert statuses == Counter({200: 1, 404: 9}), statuses
    assert not Tag.objects.exists()
    assert deletes(OutboxEntity.TAG) == 1


def test_parallel_deletes_of_a_custom_attribute_one_200_one_outbox_row(realm, api_key):
    CustomAttributeDefinitionFactory(realm=realm, name="Shoe size", data_type="DECIMAL")
    statuses = race(api_key.plain, 10, "DELETE", "/v1/identities/customAttributes/Shoe size")
    assert statuses == Counter({200: 1, 404: 9}), statuses
    assert not CustomAttributeDefinition.objects.exists()
    assert deletes(OutboxEntity.CUSTOM_ATTRIBUTE) == 1


@pytest.mark.parametrize(
    ("path", "body", "model"),
    [
        ("/v1/identities/tags", {"name": "Fair 2026"}, Tag),
        ("/v1/identities/customAttributes", {"name": "Shoe size", "dataType": "DECIMAL"}, CustomAttributeDefinition),
    ],
)
def test_parallel_creates_with_one_name_make_one(realm, api_key, path, body, model):
    statuses = race(api_key.plain, 10, "POST", path, body)
    assert statuses[201] == 1, statuses
    # The losers: a 409 (they lost the race on the unique index) or the 400 `conflict` a later create gets.
    assert set(statuses) <= {201, 400, 409}, statuses
    assert model.objects.count() == 1
    assert OutboxEntry.objects.filter(op=OutboxOp.CREATE).count() == 1
