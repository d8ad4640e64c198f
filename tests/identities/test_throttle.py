"""Issue 16: brute force. 10 failures a minute per client address or account lock it: 429 for the API (our
error shape), a locked message on the admin login; superusers see the lockouts and lift them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.urls import reverse

from identities.models import AuthThrottle, ThrottleKind
from tests.api_support import api_client
from tests.identities.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


def api(key: str, address: str = "10.0.0.1"):
    """GET /v1/identities with `key` from `address`; the response is checked against our OpenAPI document."""
    return api_client(key).get("/v1/identities", REMOTE_ADDR=address)


def test_ten_bad_api_keys_from_one_address_then_429_with_our_error_shape(api_key):
    for n in range(10):
        assert api(f"cdp_{n:012x}_wrong").status_code == 401
    response = api("cdp_ffffffffffff_wrong")
    assert response.status_code == 429
    body = response.json()
    assert (body["code"], body["type"], body["name"]) == (429, "throttled", "TooManyRequests")
    assert "invalid API key" in body["message"]
    assert int(response["Retry-After"]) > 0
    assert api("cdp_ffffffffffff_wrong", address="10.0.0.2").status_code == 401  # another address: counting
    row = AuthThrottle.objects.get(kind=ThrottleKind.API_ADDRESS, subject="10.0.0.1")
    assert (row.failures, row.is_locked) == (10, True)


def test_a_locked_address_is_refused_even_with_a_valid_key(api_key):
    for n in range(10):
        api(f"cdp_{n:012x}_wrong")
    assert api(api_key.plain).status_code == 429
    assert api(api_key.plain, address="10.0.0.9").status_code == 200


def test_ten_bad_secrets_for_one_key_lock_that_key_from_every_address(api_key):
    wrong = f"cdp_{api_key.prefix}_not-the-secret"
    for n in range(10):
        assert api(wrong, address=f"10.1.0.{n}").status_code == 401
    assert api(wrong, address="10.2.0.1").status_code == 429
    assert AuthThrottle.objects.get(kind=ThrottleKind.API_KEY, subject=api_key.prefix).is_locked


def test_the_lock_is_shared_through_postgresql_not_the_process_cache(api_key):
    for n in range(10):
        api(f"cdp_{n:012x}_wrong")
    cache.clear()  # another process: no note of the lockout in its cache
    assert api("cdp_eeeeeeeeeeee_wrong").status_code == 429


def test_failures_of_an_older_window_start_again(api_key):
    for n in range(9):
        api(f"cdp_{n:012x}_wrong")
    AuthThrottle.objects.update(window_started="2020-01-01T00:00:00Z")
    for n in range(9):
        assert api(f"cdp_{n:012x}_wrong").status_code == 401
    assert not AuthThrottle.objects.filter(locked_until__isnull=False).exists()


def login(client, username, password, address="10.9.9.9"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def test_admin_login_locks_an_account_after_ten_failures(client):
    StaffUserFactory(username="alice")
    for n in range(10):
        response = login(client, "alice", "wrong", address=f"10.3.0.{n}")
        assert response.status_code == 200
        assert "locked" not in response.content.decode()
    response = login(client, "alice", "pw-staff-123", address="10.4.0.1")  # the right password, too late
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_login_locks_an_address_after_ten_failures(client):
    StaffUserFactory(username="bob")
    for n in range(10):
        login(client, f"user{n}", "wrong")
    assert "Too many failed logins" in login(client, "bob", "pw-staff-123").content.decode()
    assert login(client, "bob", "pw-staff-123", address="10.5.0.1").status_code == 302


def test_a_successful_login_clears_the_accounts_count(client):
    StaffUserFactory(username="carol")
    for _ in range(5):
        login(client, "carol", "wrong")
    assert login(client, "carol", "pw-staff-123").status_code == 302
    assert not AuthThrottle.objects.filter(kind=ThrottleKind.ADMIN_ACCOUNT, subject="carol").exists()


def test_superusers_see_lockouts_and_unlock_them(client, admin_client):
    StaffUserFactory(username="dave")
    for n in range(10):
        login(client, "dave", "wrong", address=f"10.6.0.{n}")
    changelist = reverse("admin:identities_auththrottle_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "dave" in page
    assert "locked" in page
    row = AuthThrottle.objects.get(kind=ThrottleKind.ADMIN_ACCOUNT, subject="dave")
    response = admin_client.post(changelist, {"action": "unlock", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert not AuthThrottle.objects.filter(pk=row.pk).exists()
    assert login(client, "dave", "pw-staff-123", address="10.7.0.1").status_code == 302


def test_staff_without_superuser_do_not_see_lockouts(client):
    user = StaffUserFactory(username="erin", permissions=["identities.view_auththrottle"])
    client.force_login(user)
    assert client.get(reverse("admin:identities_auththrottle_changelist")).status_code == 403
    assert User.objects.filter(is_superuser=True).count() == 0
