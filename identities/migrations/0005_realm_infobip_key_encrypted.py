"""Realm Infobip keys encrypted at rest (core.crypto, Fernet) and tied to the URL they were entered with.

The trigger is the database's half of "a key belongs to its URL": an UPDATE that changes the base URL but
leaves the stored token as it was (QuerySet.update, SQL, a stale form) clears the key. Entering a key again
always writes a new token (Fernet is randomised), so a key given with the new URL is kept.
"""

from django.db import migrations, models

from core import crypto

TRIGGER = """
CREATE OR REPLACE FUNCTION identities_realm_key_follows_url() RETURNS trigger AS $$
BEGIN
    IF NEW.infobip_base_url IS DISTINCT FROM OLD.infobip_base_url
       AND NEW.infobip_api_key_encrypted IS NOT DISTINCT FROM OLD.infobip_api_key_encrypted THEN
        NEW.infobip_api_key_encrypted := '';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER identities_realm_key_follows_url BEFORE UPDATE ON identities_realm
    FOR EACH ROW EXECUTE FUNCTION identities_realm_key_follows_url();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS identities_realm_key_follows_url ON identities_realm;
DROP FUNCTION IF EXISTS identities_realm_key_follows_url();
"""


def encrypt_keys(apps, schema_editor):
    Realm = apps.get_model("identities", "Realm")
    for realm in Realm.objects.exclude(infobip_api_key_encrypted=""):
        if not crypto.is_token(realm.infobip_api_key_encrypted):
            token = crypto.encrypt(realm.infobip_api_key_encrypted)
            Realm.objects.filter(pk=realm.pk).update(infobip_api_key_encrypted=token)


def decrypt_keys(apps, schema_editor):
    Realm = apps.get_model("identities", "Realm")
    for realm in Realm.objects.exclude(infobip_api_key_encrypted=""):
        if crypto.is_token(realm.infobip_api_key_encrypted):
            plain = crypto.decrypt(realm.infobip_api_key_encrypted)
            Realm.objects.filter(pk=realm.pk).update(infobip_api_key_encrypted=plain)


class Migration(migrations.Migration):
    dependencies = [("identities", "0004_idempotency_purge_schedule")]

    operations = [
        migrations.RenameField("realm", "infobip_api_key", "infobip_api_key_encrypted"),
        migrations.AlterField(
            model_name="realm",
            name="infobip_api_key_encrypted",
            field=models.TextField(blank=True, editable=False, verbose_name="Infobip API key (encrypted)"),
        ),
        migrations.RunPython(encrypt_keys, decrypt_keys),
        migrations.RunSQL(TRIGGER, DROP_TRIGGER),
    ]
