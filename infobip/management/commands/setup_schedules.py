"""Register the periodic django-q2 schedules (idempotent: run it on every deploy; `make run` does).

* ``infobip-outbox-tick`` — every minute: drains the outbox (the safety net behind the commit wake-ups) and
  queues sync runs whose worker died again.
"""

from django.core.management.base import BaseCommand
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "infobip-outbox-tick",
        "func": "infobip.tasks.outbox_tick",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


class Command(BaseCommand):
    help = "Create or update the periodic django-q2 schedules (outbox drain safety net, stalled sync runs)."

    def handle(self, *args, **options):
        for spec in SCHEDULES:
            spec = dict(spec)
            name = spec.pop("name")
            schedule, created = Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
            self.stdout.write(f"{'created' if created else 'updated'} schedule {name} ({schedule.func})")
