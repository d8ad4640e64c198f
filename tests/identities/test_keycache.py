"""The in-process cache of authenticated API keys: no query on a hit, revocation seen at once through the
services and the admin, anything else within API_KEY_CACHE_SECONDS."""

import pytest
from django.core.cache import cache

from identities import keycache, services
from identities.models import ApiKey, Realm
from tests.identities.factories import ApiKeyFactory


@pytest.fixture(autouse=True)
def _empty_keycache():
    keycache._entries.clear()
    yield
    keycache._entries.clear()


@pytest.fixture
def key(realm):
    return ApiKeyFactory(realm=realm)


def test_a_cached_key_costs_no_query_and_comes_back_with_its_realm(key, realm, django_assert_num_queries):
    with django_assert_num_queries(1):
        first = services.api_key_authenticate(key.plain)
    with django_assert_num_queries(0):
        again = services.api_key_authenticate(key.plain)
    assert again.pk == first.pk == key.pk
    assert again.realm == realm
    assert again.realm.default_country == "HR"
    assert again.owner == key.owner
    assert again is not first
    assert again.realm is not first.realm


def test_a_wrong_key_with_a_cached_prefix_is_refused(key):
    assert services.api_key_authenticate(key.plain)
    assert services.api_key_authenticate(key.plain[:-1] + ("x" if key.plain[-1] != "x" else "y")) is None
    assert services.api_key_authenticate(key.plain) is not None


def test_revoking_through_the_service_is_seen_at_once(api_key, api):
    assert api.get("/v1/identities/tags").status_code == 200
    services.api_key_revoke(key=ApiKey.objects.get(pk=api_key.pk))
    assert api.get("/v1/identities/tags").status_code == 401


def test_revoking_in_the_admin_is_seen_at_once(key, admin_client):
    assert services.api_key_authenticate(key.plain)
    response = admin_client.post(
        "/admin/identities/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert services.api_key_authenticate(key.plain) is None


def test_a_realm_saved_in_the_admin_or_services_is_reloaded(key, realm):
    assert services.api_key_authenticate(key.plain).realm.cdp_enabled is False
    realm.cdp_enabled = True
    realm.save()
    assert services.api_key_authenticate(key.plain).realm.cdp_enabled is True


def test_a_change_behind_djangos_back_is_seen_within_the_ttl(key, monkeypatch, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    assert services.api_key_authenticate(key.plain)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2020-01-01T00:00:00Z")  # no signal, no service
    Realm.objects.filter(pk=key.realm_id).update(default_country="US")
    assert services.api_key_authenticate(key.plain) is not None  # the bound: stale for at most the TTL
    now = keycache.time.monotonic()
    monkeypatch.setattr(keycache.time, "monotonic", lambda: now + 5.01)
    assert services.api_key_authenticate(key.plain) is None


def test_another_process_bumping_the_shared_generation_invalidates(key):
    assert services.api_key_authenticate(key.plain)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2020-01-01T00:00:00Z")
    cache.set(keycache.GENERATION_KEY, "bumped-elsewhere", None)  # what a revoke in another process does
    assert services.api_key_authenticate(key.plain) is None


def test_an_emptied_cache_invalidates_every_entry(key):
    assert services.api_key_authenticate(key.plain)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2020-01-01T00:00:00Z")
    cache.clear()
    assert services.api_key_authenticate(key.plain) is None
