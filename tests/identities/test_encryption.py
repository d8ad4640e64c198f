"""Realm Infobip keys at rest: Fernet tokens, the data migration, key rotation."""

from __future__ import annotations

import importlib
import io

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from core import crypto
from identities.models import Realm

pytestmark = pytest.mark.django_db

KEY = "realm-secret-key-0123456789"


def stored(realm) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT infobip_api_key_encrypted FROM identities_realm WHERE id = %s", [realm.pk])
        return cursor.fetchone()[0]


def test_the_key_is_stored_as_a_fernet_token_and_read_back_plain():
    realm = Realm.objects.create(name="Enc", slug="enc", infobip_api_key=KEY)
    token = stored(realm)
    assert KEY not in token
    assert crypto.is_token(token)
    assert Realm.objects.get(pk=realm.pk).infobip_api_key == KEY


def test_the_data_migration_encrypts_existing_plain_keys():
    migration = importlib.import_module("identities.migrations.0005_realm_infobip_key_encrypted")
    realm = Realm.objects.create(name="Old", slug="old")
    Realm.objects.filter(pk=realm.pk).update(infobip_api_key_encrypted=KEY)  # as before the migration
    migration.encrypt_keys(apps, None)
    assert crypto.is_token(stored(realm))
    assert Realm.objects.get(pk=realm.pk).infobip_api_key == KEY
    migration.encrypt_keys(apps, None)  # idempotent: a token is not encrypted twice
    assert Realm.objects.get(pk=realm.pk).infobip_api_key == KEY
    migration.decrypt_keys(apps, None)
    assert stored(realm) == KEY


def test_rotation_re_encrypts_with_the_first_key_so_the_old_one_can_go(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    realm = Realm.objects.create(name="Rot", slug="rot", infobip_api_key=KEY)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 1 realm key(s)" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert Realm.objects.get(pk=realm.pk).infobip_api_key == KEY
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.DecryptionError):
        _ = Realm.objects.get(pk=realm.pk).infobip_api_key


def test_rotation_reports_keys_no_key_opens_without_showing_them(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    realm = Realm.objects.create(name="Lost", slug="lost", infobip_api_key=KEY)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match=f"realm ids \\[{realm.pk}\\]") as caught:
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert KEY not in str(caught.value)
    assert "cannot be decrypted" in Realm.objects.get(pk=realm.pk).infobip_api_key_masked


def test_no_key_configured_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        crypto.encrypt("x")
