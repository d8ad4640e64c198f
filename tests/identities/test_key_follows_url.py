"""Issue 16: an Infobip key only goes to the URL it was entered with, and only to allowed hosts.

Every path that can change a realm's base URL is tried (admin form, management command, model save,
QuerySet.update); the client itself refuses other hosts and does not follow redirects.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from identities.models import Realm
from infobip import hosts
from infobip.client import InfobipClient, InfobipError, clear_client_cache, client_for_realm
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.listener import Listener

pytestmark = pytest.mark.django_db

KEY = "realm-secret-key-0123456789"
SANDBOX_URL = "http://127.0.0.1:8099"


@pytest.fixture
def keyed_realm():
    return Realm.objects.create(
        name="Keyed", slug="keyed", cdp_enabled=True, infobip_base_url="https://abc.api.infobip.com",
        infobip_api_key=KEY,
    )  # fmt: skip


@pytest.fixture
def staff(client, keyed_realm):
    user = StaffUserFactory(permissions=["identities.change_realm", "identities.view_realm", "identities.add_realm"])
    RealmMemberFactory(realm=keyed_realm, user=user)
    client.force_login(user)
    return client


def realm_post(realm, **overrides):
    data = {
        "name": realm.name, "slug": realm.slug, "default_country": realm.default_country,
        "default_currency": realm.default_currency, "cdp_enabled": "on", "infobip_base_url": realm.infobip_base_url,
        "infobip_api_key": "", "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0",
        "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update(overrides)
    return data


# --- the admin form


def test_admin_changing_the_url_without_a_key_is_refused_and_keeps_both(staff, keyed_realm):
    url = reverse("admin:identities_realm_change", args=[keyed_realm.pk])
    response = staff.post(url, realm_post(keyed_realm, infobip_base_url="https://other.api.infobip.com"))
    assert response.status_code == 200
    assert "enter the Infobip API key for the new base URL" in response.content.decode()
    keyed_realm.refresh_from_db()
    assert (keyed_realm.infobip_base_url, keyed_realm.infobip_api_key) == ("https://abc.api.infobip.com", KEY)


def test_admin_changing_the_url_with_a_key_stores_both(staff, keyed_realm):
    url = reverse("admin:identities_realm_change", args=[keyed_realm.pk])
    data = realm_post(keyed_realm, infobip_base_url="https://other.api.infobip.com", infobip_api_key="new-key-1234")
    assert staff.post(url, data).status_code == 302
    keyed_realm.refresh_from_db()
    assert keyed_realm.infobip_base_url == "https://other.api.infobip.com"
    assert keyed_realm.infobip_api_key == "new-key-1234"


def test_admin_changing_the_url_to_the_server_wide_one_clears_the_realm_key(staff, keyed_realm, settings):
    settings.INFOBIP_BASE_URL = SANDBOX_URL
    url = reverse("admin:identities_realm_change", args=[keyed_realm.pk])
    assert staff.post(url, realm_post(keyed_realm, infobip_base_url=SANDBOX_URL)).status_code == 302
    keyed_realm.refresh_from_db()
    assert (keyed_realm.infobip_base_url, keyed_realm.infobip_api_key) == (SANDBOX_URL, "")


def test_admin_refuses_a_host_outside_the_allow_list(staff, keyed_realm):
    url = reverse("admin:identities_realm_change", args=[keyed_realm.pk])
    data = realm_post(keyed_realm, infobip_base_url="https://evil.example.com", infobip_api_key="k-123456789")
    response = staff.post(url, data)
    assert response.status_code == 200
    assert "not an allowed Infobip host" in response.content.decode()
    keyed_realm.refresh_from_db()
    assert keyed_realm.infobip_base_url == "https://abc.api.infobip.com"


def test_admin_added_realm_with_its_own_url_and_no_key_never_gets_the_server_key(staff, settings):
    settings.INFOBIP_API_KEY = "server-wide-key"
    settings.INFOBIP_BASE_URL = SANDBOX_URL
    with Listener() as listener:
        data = realm_post(Realm(name="Mine", slug="mine"), infobip_base_url=listener.url)
        data.update(default_country="HR", default_currency="EUR")
        assert staff.post(reverse("admin:identities_realm_add"), data).status_code == 302
        realm = Realm.objects.get(name="Mine")
        with pytest.raises(hosts.MissingKey, match="own Infobip base URL but no API key"):
            client_for_realm(realm)
    assert listener.connections == 0


# --- management commands and services


def test_create_realm_command_refuses_a_host_outside_the_allow_list():
    with pytest.raises(CommandError, match="not an allowed Infobip host"):
        call_command("create_realm", "Evil", "--infobip-url", "https://evil.example.com", stdout=io.StringIO())
    assert not Realm.objects.filter(name="Evil").exists()


def test_create_realm_command_with_its_own_url_and_no_key_gets_no_key(settings):
    settings.INFOBIP_BASE_URL = SANDBOX_URL
    call_command("create_realm", "Own", "--infobip-url", "https://own.api.infobip.com", stdout=io.StringIO())
    with pytest.raises(hosts.MissingKey):
        client_for_realm(Realm.objects.get(name="Own"))


def test_bootstrap_demo_keeps_working_with_the_sandbox(settings):
    call_command("bootstrap_demo", "--sandbox-url", SANDBOX_URL, stdout=io.StringIO())
    realm = Realm.objects.get(infobip_base_url=SANDBOX_URL)
    assert hosts.realm_credentials(realm)[0] == SANDBOX_URL


# --- the model and the database


def test_model_save_with_a_new_url_clears_the_key(keyed_realm):
    realm = Realm.objects.get(pk=keyed_realm.pk)
    realm.infobip_base_url = "https://other.api.infobip.com"
    realm.save()
    assert realm.infobip_api_key == ""
    assert Realm.objects.get(pk=realm.pk).infobip_api_key == ""


def test_model_save_with_update_fields_clears_the_key(keyed_realm):
    keyed_realm.infobip_base_url = "https://other.api.infobip.com"
    keyed_realm.save(update_fields=["infobip_base_url"])
    assert Realm.objects.get(pk=keyed_realm.pk).infobip_api_key == ""


def test_model_save_with_a_new_url_and_a_key_entered_again_keeps_it(keyed_realm):
    keyed_realm.infobip_base_url = "https://other.api.infobip.com"
    keyed_realm.infobip_api_key = KEY  # entered again, even the same key: a new token
    keyed_realm.save()
    assert Realm.objects.get(pk=keyed_realm.pk).infobip_api_key == KEY


def test_queryset_update_of_the_url_clears_the_key_in_the_database(keyed_realm):
    Realm.objects.filter(pk=keyed_realm.pk).update(infobip_base_url="https://other.api.infobip.com")
    assert Realm.objects.get(pk=keyed_realm.pk).infobip_api_key == ""


def test_other_changes_keep_the_key(keyed_realm):
    keyed_realm.name = "Renamed"
    keyed_realm.save()
    Realm.objects.filter(pk=keyed_realm.pk).update(cdp_enabled=False)
    assert Realm.objects.get(pk=keyed_realm.pk).infobip_api_key == KEY


# --- the client


def test_the_client_refuses_a_host_outside_the_allow_list_and_sends_nothing(settings):
    settings.INFOBIP_ALLOWED_HOSTS = ["*.api.infobip.com"]
    with Listener() as listener:
        client = InfobipClient(listener.url, KEY, max_retries=0)
        with pytest.raises(hosts.HostNotAllowed):
            client.list_tags()
        client.close()
    assert listener.connections == 0


def test_the_client_does_not_follow_redirects():
    with Listener() as target:
        redirect = f"HTTP/1.1 302 Found\r\nLocation: {target.url}/people/2/tags\r\nContent-Length: 0\r\n\r\n"
        with Listener(redirect.encode()) as first:
            client = InfobipClient(first.url, KEY, max_retries=0)
            with pytest.raises(InfobipError, match="HTTP 302"):
                client.list_tags()
            client.close()
        assert first.connections == 1
    assert target.connections == 0


def test_a_realm_with_its_own_url_never_gets_the_server_wide_key(settings):
    settings.INFOBIP_API_KEY = "server-wide-key"
    settings.INFOBIP_BASE_URL = SANDBOX_URL
    clear_client_cache()
    realm = Realm.objects.create(name="Own", slug="own", infobip_base_url="https://own.api.infobip.com")
    with pytest.raises(hosts.MissingKey):
        client_for_realm(realm)
    same = Realm.objects.create(name="Same", slug="same", infobip_base_url=SANDBOX_URL + "/")
    assert client_for_realm(same).api_key == "server-wide-key"
    clear_client_cache()


def test_the_push_of_a_realm_without_a_key_for_its_url_fails_with_the_reason(settings):
    from infobip.models import OutboxAttempt, OutboxEntry
    from infobip.outbox import engine
    from people import services as people

    settings.INFOBIP_API_KEY = "server-wide-key"
    settings.INFOBIP_OUTBOX_AUTODRAIN = False
    clear_client_cache()
    with Listener() as listener:
        realm = Realm.objects.create(name="Own", slug="own", cdp_enabled=True, infobip_base_url=listener.url)
        people.person_create(realm=realm, attributes={"first_name": "Jane", "external_id": "e-1"})
        engine.drain()
    assert listener.connections == 0
    entry = OutboxEntry.objects.get(realm=realm, entity="person")
    assert "no API key for it" in entry.last_error
    assert not OutboxAttempt.objects.filter(ok=True).exists()
    clear_client_cache()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://abc123.api.infobip.com", True),
        ("https://api.infobip.com/", True),
        ("http://abc.api.infobip.com", False),
        ("https://api.infobip.com.evil.example", False),
        ("https://user:pw@abc.api.infobip.com", False),
        ("ftp://abc.api.infobip.com", False),
        ("http://127.0.0.1:8099", True),
    ],
)
def test_check_base_url(url, ok):
    if ok:
        assert hosts.check_base_url(url) == url
    else:
        with pytest.raises(hosts.HostNotAllowed):
            hosts.check_base_url(url)
