from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from identities.services import realm_create


class Command(BaseCommand):
    help = "Create a realm: create_realm NAME [--country HR] [--currency EUR] [--infobip-url URL] [--infobip-key KEY]"

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--country", default="US", help="Default ISO 3166-1 alpha-2 country (default US)")
        parser.add_argument("--currency", default="USD", help="Default ISO 4217 currency (default USD)")
        parser.add_argument("--infobip-url", default="", help="Infobip base URL; enables the CDP extension")
        parser.add_argument("--infobip-key", default="", help="Infobip API key")

    def handle(self, *args, name, country, currency, infobip_url, infobip_key, **options):
        try:
            realm = realm_create(
                name=name,
                default_country=country.upper(),
                default_currency=currency.upper(),
                cdp_enabled=bool(infobip_url or infobip_key),
                infobip_base_url=infobip_url,
                infobip_api_key=infobip_key,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created realm {realm.name} (slug {realm.slug}, id {realm.pk})")
