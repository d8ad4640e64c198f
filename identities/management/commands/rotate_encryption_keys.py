"""Re-encrypt every stored secret with the first of FIELD_ENCRYPTION_KEYS (the README's key rotation)."""

from django.core.management.base import BaseCommand, CommandError

from core import crypto
from identities import keycache
from identities.models import Realm


class Command(BaseCommand):
    help = "Re-encrypt realm Infobip keys with the first FIELD_ENCRYPTION_KEYS key; then older keys may go."

    def handle(self, *args, **options):
        rotated, failed = 0, []
        rows = Realm.objects.exclude(infobip_api_key_encrypted="").values_list("pk", "infobip_api_key_encrypted")
        for pk, token in rows.iterator():
            try:
                fresh = crypto.rotate(token)
            except crypto.DecryptionError:
                failed.append(pk)
                continue
            # Only if unchanged meanwhile; the URL is not touched, so the key-follows-URL trigger keeps it.
            rotated += Realm.objects.filter(pk=pk, infobip_api_key_encrypted=token).update(
                infobip_api_key_encrypted=fresh
            )
        keycache.api_keys_changed()
        self.stdout.write(f"Re-encrypted {rotated} realm key(s) with the first FIELD_ENCRYPTION_KEYS key.")
        if failed:
            raise CommandError(
                f"{len(failed)} realm key(s) open with none of FIELD_ENCRYPTION_KEYS (realm ids {failed}); "
                "keep the old key in the list or enter those keys again in the admin"
            )
