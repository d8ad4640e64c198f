from django.core.management.base import BaseCommand, CommandError

from identities.models import Realm
from people.seeding import seed_persons


class Command(BaseCommand):
    help = "Fill a realm with realistic persons, companies, tags, identities and events (COPY; fine for 1,000,000)."

    def add_arguments(self, parser):
        parser.add_argument("--realm", required=True, help="Realm name or slug")
        parser.add_argument("--persons", type=int, required=True)
        parser.add_argument("--identities", choices=["all", "half", "none"], default="all")
        parser.add_argument("--events-per-person", type=float, default=0.3)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, realm, persons, identities, events_per_person, seed, **options):
        found = Realm.objects.filter(name=realm).first() or Realm.objects.filter(slug=realm).first()
        if found is None:
            raise CommandError(f"No realm named {realm!r}")
        if persons < 0:
            raise CommandError("--persons must be 0 or more")

        def progress(done):
            self.stdout.write(f"  {done:,} / {persons:,} persons")

        result = seed_persons(
            realm=found,
            persons=persons,
            identities=identities,
            events_per_person=events_per_person,
            seed=seed,
            progress=progress,
        )
        self.stdout.write(
            f"Seeded realm {found.name}: {result.persons:,} persons, {result.identities:,} identities, "
            f"{result.companies:,} companies, {result.tags} tags, {result.events:,} events in {result.seconds:.1f}s"
        )
