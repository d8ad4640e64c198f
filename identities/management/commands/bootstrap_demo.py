"""Create (or reuse) the demo realm, an admin user and an API key, and print how to use them.

Credentials are kept in var/demo-credentials.json (git-ignored) so that a second `make run` prints the same
ones; only the hash of the API key is in the database.
"""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from identities.models import ApiKey, Realm
from identities.services import api_key_create, api_key_prefix, realm_create

CREDENTIALS = Path(settings.BASE_DIR) / "var" / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo realm, an admin user and an API key (reusing what exists) and print them."

    def add_arguments(self, parser):
        parser.add_argument("--realm", default="Demo")
        parser.add_argument("--username", default="admin")
        parser.add_argument("--sandbox-url", default=settings.INFOBIP_BASE_URL)
        parser.add_argument("--sandbox-key", default=settings.INFOBIP_API_KEY)

    @transaction.atomic
    def handle(self, *args, realm, username, sandbox_url, sandbox_key, **options):
        saved = json.loads(CREDENTIALS.read_text()) if CREDENTIALS.exists() else {}
        demo = Realm.objects.filter(name=realm).first() or realm_create(
            name=realm,
            default_country="HR",
            default_currency="EUR",
            cdp_enabled=True,
            infobip_base_url=sandbox_url,
            infobip_api_key=sandbox_key,
        )

        user_model = get_user_model()
        password = saved.get("password")
        user = user_model.objects.filter(username=username).first()
        if user is None:
            password = password or secrets.token_urlsafe(12)
            user = user_model.objects.create_superuser(username=username, email="", password=password)
        elif not password or not user.check_password(password):
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])

        plain = saved.get("api_key")
        prefix = api_key_prefix(plain or "")
        key = ApiKey.objects.filter(realm=demo, prefix=prefix or "", revoked_at__isnull=True).first()
        if key is None or not key.matches(plain):
            key, plain = api_key_create(realm=demo, name="demo")

        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.write_text(json.dumps({"username": username, "password": password, "api_key": plain}))
        CREDENTIALS.chmod(0o600)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Realm     {demo.name} (country {demo.default_country}, currency {demo.default_currency},"
                    f" Infobip {demo.infobip_base_url or settings.INFOBIP_BASE_URL})",
                    f"  Admin     http://127.0.0.1:8000/admin/  user {username}  password {password}",
                    f"  API key   {plain}  (owner {key.owner})",
                    "  API docs  http://127.0.0.1:8000/v1/docs/",
                    "",
                ]
            )
        )
