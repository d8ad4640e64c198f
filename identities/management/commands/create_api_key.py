from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from identities.models import Realm
from identities.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a realm. The plain key is printed once, as the last line; only a hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("--realm", required=True, help="Realm name or slug")
        parser.add_argument("--owner", default=None, help="24-hex id of the API user (default: a new one)")
        parser.add_argument("--name", default="", help="A label for the key")

    def handle(self, *args, realm, owner, name, **options):
        found = Realm.objects.filter(name=realm).first() or Realm.objects.filter(slug=realm).first()
        if found is None:
            raise CommandError(f"No realm named {realm!r}")
        try:
            key, plain = api_key_create(realm=found, owner=owner, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"API key {key.prefix} for realm {found.name}, owner {key.owner}")
        self.stdout.write(plain)
