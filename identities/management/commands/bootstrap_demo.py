"""Create (or reuse) the demo realm, an admin user and an API key, and print how to use them.

The demo realm is a first day's realm: it defines what the worked examples of the source documents use (the
custom attributes Contract Expiry, Company and ShoppingCartList with its product fields; the event definition
addToCart with its properties), so every curl example of the README works against it as written; and it holds
a few dozen persons (each with an identity of the demo API key's owner) and companies, created through the
services like any other, so the outbox pushes them to the Infobip sandbox (nothing says "In sync" before
Infobip answered), with a few realistic duplicates for the suggestions panel.

Credentials are kept in var/demo-credentials.json (git-ignored) so that a second `make run` prints the same
ones; only the hash of the API key is in the database.
"""

import datetime as dt
import json
import random
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from companies.services import company_create
from core.api import examples
from identities.models import ApiKey, Realm
from identities.services import api_key_create, api_key_prefix, identity_create, realm_create
from people import duplicates
from people.event_services import event_definition_create
from people.models import CustomAttributeDefinition, DataType, EventDefinition, Person
from people.seeding import CITIES, FIRST_NAMES, LAST_NAMES, TAGS
from people.services import custom_attribute_definition_create, person_create

# The custom attributes of the examples (seed 000), by name: data type and, for a list of objects, its fields.
DEMO_ATTRIBUTES = {
    "Contract Expiry": (DataType.DATE, None),
    "Company": (DataType.STRING, None),
    "ShoppingCartList": (DataType.LIST_OF_OBJECTS, examples.CUSTOM_ATTRIBUTE_REQUEST["objectSchema"]),
}
DEMO_COMPANIES = [
    ("Adriatic Software", "Croatia", "IT"),
    ("Jadran Trgovina", "Croatia", "Retail"),
    ("Acme", "United Kingdom", "Logistics"),
    ("Nordlicht Reisen", "Germany", "Travel"),
    ("Blue Harbor Bank", "United States", "Finance"),
]
DEMO_PERSONS = 36
# (index of the original among the demo persons, how the duplicate differs): a second profile of the same
# person, as a webshop signup and a store card would leave it: the same name and birth date, the email with a
# dot less, a +suffix or at another mailbox provider.
DEMO_DUPLICATES = [(0, "dotless"), (3, "plus"), (7, "mailbox")]

CREDENTIALS = Path(settings.BASE_DIR) / "var" / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo realm, an admin user and an API key (reusing what exists) and print them."

    def add_arguments(self, parser):
        parser.add_argument("--realm", default="Demo")
        parser.add_argument("--username", default="admin")
        parser.add_argument("--sandbox-url", default=settings.INFOBIP_BASE_URL)
        parser.add_argument("--sandbox-key", default=settings.INFOBIP_API_KEY)
        parser.add_argument("--host", default="127.0.0.1", help="the host the web server listens on (for the URLs)")
        parser.add_argument("--port", type=int, default=8000, help="the port the web server listens on")
        parser.add_argument("--no-persons", action="store_true", help="define the examples' data, add no persons")

    @transaction.atomic
    def handle(self, *args, realm, username, sandbox_url, sandbox_key, host, port, no_persons, **options):
        saved = json.loads(CREDENTIALS.read_text()) if CREDENTIALS.exists() else {}
        demo = Realm.objects.filter(name=realm).first() or realm_create(
            name=realm,
            default_country="HR",
            default_currency="EUR",
            cdp_enabled=True,
            infobip_base_url=sandbox_url,
            infobip_api_key=sandbox_key,
        )

        demo_reference_data(demo)

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
        if not no_persons and not demo.persons.exists():
            demo_people(demo, owner=key.owner)

        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.write_text(json.dumps({"username": username, "password": password, "api_key": plain}))
        CREDENTIALS.chmod(0o600)
        base = f"http://{host}:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Realm     {demo.name} (country {demo.default_country}, currency {demo.default_currency},"
                    f" Infobip {demo.infobip_base_url or settings.INFOBIP_BASE_URL})",
                    f"  Admin     {base}/admin/  user {username}  password {password}",
                    f"  API key   {plain}  (owner {key.owner})",
                    f"  API docs  {base}/v1/docs/",
                    f"  Examples  README.md, “The demo realm”: curl {base}/v1/identities/person ...",
                    f"  Demo data {demo.persons.count()} persons, {demo.companies.count()} companies"
                    " (pushed to Infobip through the outbox)",
                    "",
                ]
            )
        )


def demo_reference_data(realm) -> None:
    """The custom attributes and the event definition the examples use, through the services (the outbox
    creates them in Infobip before any person carries them); what the realm already defines stays."""
    have = set(CustomAttributeDefinition.objects.filter(realm=realm).values_list("name", flat=True))
    for name, (data_type, schema) in DEMO_ATTRIBUTES.items():
        if name not in have:
            custom_attribute_definition_create(realm=realm, name=name, data_type=data_type, object_schema=schema)
    definition = examples.EVENT_DEFINITION_REQUEST
    if not EventDefinition.objects.filter(realm=realm, definition_id=definition["definitionId"]).exists():
        event_definition_create(
            realm=realm,
            definition_id=definition["definitionId"],
            title=definition["title"],
            description=definition["description"],
            fields=definition["fields"],
        )


def ascii_local_part(first: str, last: str) -> str:
    """'Ana', 'Jurić' → 'ana.juric': what a mailbox name is made of (no accents before the @)."""
    return f"{duplicates.fold_name(first)}.{duplicates.fold_name(last)}".replace(" ", "")


def demo_people(realm, *, owner: str) -> int:
    """Companies and persons of the demo, created by the services (so each one goes through the outbox), each
    with an Orangepill identity of the demo API key's owner, and a few duplicates (without one: a second
    profile nobody linked yet); the suggestions are computed at once. Returns how many persons were created."""
    rnd = random.Random(2026)
    companies = []
    for name, country, industry in DEMO_COMPANIES:
        companies.append(
            company_create(
                realm=realm,
                attributes={"name": name, "country": country, "region": "Europe" if country != "United States"
                            else "North America", "industry": industry, "customer_stage": "Active",
                            "account_manager": "Agent Smith"},
                custom_attributes={"Contract Expiry": f"{2026 + rnd.randrange(3)}-{rnd.randrange(1, 13):02d}-01"},
            )
        )  # fmt: skip
    made: list[tuple[dict, str, str]] = []
    used: set[str] = set()
    for n in range(DEMO_PERSONS):
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        while ascii_local_part(first, last) in used:
            first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        used.add(ascii_local_part(first, last))
        country = rnd.choice(list(CITIES))
        attributes = {
            "first_name": first,
            "last_name": last,
            "gender": rnd.choice(["MALE", "FEMALE"]),
            "birth_date": (dt.date(1955, 1, 1) + dt.timedelta(days=rnd.randrange(18000))).isoformat(),
            "city": rnd.choice(CITIES[country]),
            "country": country,
            "address": f"{rnd.randrange(1, 120)} {rnd.choice(['Ilica', 'Main Street', 'Hauptstraße', 'Vukovarska'])}",
        }
        email = f"{ascii_local_part(first, last)}@example.com"
        phone = f"+385 9{[1, 2, 5, 8, 9][n % 5]} {100 + n} {rnd.randrange(1000, 9999)}"
        custom = {"Company": companies[n % len(companies)].name} if n % 3 == 0 else {}
        if n % 4 == 0:
            custom["Contract Expiry"] = f"2027-{rnd.randrange(1, 13):02d}-01"
        if n % 5 == 0:
            custom["ShoppingCartList"] = examples.SHOPPING_CART[: 1 + n % 2]
        person = person_create(
            realm=realm,
            attributes=attributes,
            phones=[phone],
            emails=[email],
            tags=rnd.sample(TAGS[:10], rnd.choice([0, 1, 2])),
            custom_attributes=custom,
            company=companies[n % len(companies)] if n % 2 == 0 else None,
        )
        identity_create(realm=realm, owner=owner, person=person, type="person", data={"source": "demo"})
        made.append((attributes, email, phone))
    for index, how in DEMO_DUPLICATES:
        attributes, email, phone = made[index]
        local, domain = email.split("@")
        if how == "dotless":
            emails, phones = [f"{local.replace('.', '')}@{domain}"], []
        elif how == "plus":
            emails, phones = [f"{local}+shop@{domain}"], []
        else:  # the same person signed up with another mailbox
            emails, phones = [f"{local}@gmail.com"], []
        person_create(realm=realm, attributes=attributes, emails=emails, phones=phones)
    duplicates.duplicates_rescan(realm=realm)
    return Person.objects.filter(realm=realm).count()
