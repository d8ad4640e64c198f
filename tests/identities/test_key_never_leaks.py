"""Issue 16: a realm's Infobip key never shows up in logs, admin history, errors, outbox records or API output.

A real push over HTTP against a sandbox that accepts the realm's key, with server errors, dropped connections
and a refused key, then every store is scanned for the key.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from identities.models import ApiKey, Realm
from infobip.client import clear_client_cache
from infobip.models import OutboxAttempt, OutboxEntry
from infobip.outbox import engine
from infobip.sandbox.server import SandboxServer
from people import services as people
from people.models import Person
from tests.api_support import api_client
from tests.identities.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

KEY = "realm-key-4f7c2a9e1b3d5f60"
REFUSED_KEY = "refused-key-8a6b4c2d0e9f7a51"
POST_PERSON = "POST /people/2/persons"


@pytest.fixture
def sandbox():
    server = SandboxServer("127.0.0.1", 0, api_keys=[KEY], rate_limits="off").start()
    yield server
    server.stop()


def realm_form(name, url, key):
    return {
        "name": name, "slug": name.lower(), "default_country": "HR", "default_currency": "EUR", "cdp_enabled": "on",
        "infobip_base_url": url, "infobip_api_key": key, "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0",
        "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
    }  # fmt: skip


def test_a_push_with_failures_leaves_the_key_nowhere(admin_client, sandbox, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.INFOBIP_BASE_URL = "https://server.api.infobip.com"
    settings.INFOBIP_API_KEY = "server-wide-key-unused"
    settings.INFOBIP_OUTBOX_AUTODRAIN = False
    settings.INFOBIP_MAX_RETRIES = 1
    settings.INFOBIP_BACKOFF = settings.INFOBIP_BACKOFF_CAP = 0.001
    settings.INFOBIP_RATE_LIMITS = "off"
    clear_client_cache()
    seen = []  # every admin page and API response

    add = reverse("admin:identities_realm_add")
    for name, key in (("Good", "entered-first-0000"), ("Refused", REFUSED_KEY)):
        response = admin_client.post(add, realm_form(name, sandbox.url, key))
        assert response.status_code == 302, response.content.decode()[:500]
    good = Realm.objects.get(name="Good")
    change = reverse("admin:identities_realm_change", args=[good.pk])
    assert admin_client.post(change, realm_form("Good", sandbox.url, KEY)).status_code == 302
    seen.append(admin_client.get(change).content.decode())
    assert Realm.objects.get(pk=good.pk).infobip_api_key == KEY

    sandbox.faults.script(POST_PERSON, 503, 503, "drop", "drop", 500, 500, 503, 503)
    for realm in Realm.objects.all():
        for n in range(3):
            people.person_create(realm=realm, attributes={"first_name": "Jane", "external_id": f"{realm.pk}-{n}"})
    for _ in range(4):
        engine.drain()
        OutboxEntry.objects.update(next_attempt_at=OutboxEntry.objects.values("created")[:1])
    assert sandbox.store.persons, "the realm's key reached the sandbox: the test exercised real calls"
    assert OutboxAttempt.objects.filter(ok=False, status_code=401).exists()
    assert OutboxAttempt.objects.filter(ok=False, status_code__gte=500).exists()

    api = api_client(ApiKeyFactory(realm=good).plain)
    for response in (
        api.post("/v1/identities", {"type": "neutral", "data": {"k": 1}}, format="json"),
        api.get("/v1/identities"),
        api.post("/v1/identities", {"type": "robot"}, format="json"),
    ):
        seen.append(response.content.decode())
    for page in ("admin:identities_realm_changelist", "admin:infobip_outboxentry_changelist", "admin:index"):
        seen.append(admin_client.get(reverse(page)).content.decode())
    seen.append(admin_client.get(reverse("admin:identities_realm_history", args=[good.pk])).content.decode())

    stores = {
        "logs": [record.getMessage() for record in caplog.records] + [caplog.text],
        "admin history": [
            f"{e.object_repr} {e.change_message} {e.get_change_message()}" for e in LogEntry.objects.all()
        ],
        "outbox errors": [f"{e.last_error} {e.payload}" for e in OutboxEntry.objects.all()],
        "outbox attempts": [f"{a.request} {a.error}" for a in OutboxAttempt.objects.all()],
        "person sync errors": list(Person.objects.values_list("sync_error", flat=True)),
        "api key rows": [f"{k.name} {k.prefix}" for k in ApiKey.objects.all()],
        "pages and API responses": seen,
        "realm rows": [str(row) for row in Realm.objects.values_list("name", "infobip_api_key_encrypted")],
    }
    assert all(stores[name] for name in ("admin history", "outbox attempts", "logs")), "nothing to scan"
    for secret in (KEY, REFUSED_KEY, "entered-first-0000"):
        for store, texts in stores.items():
            leaked = [text[:200] for text in texts if secret in text]
            assert not leaked, f"{secret} leaked into {store}: {leaked}"
    clear_client_cache()
