"""Register the periodic django-q2 schedules of the Infobip integration again (idempotent).

`migrate` registers them (infobip/migrations/0004_outbox_tick_schedule.py); this command puts them back after
someone deleted or changed them in the admin (Task queue › Scheduled tasks).

* ``infobip-outbox-tick`` — every minute: drains the outbox (the safety net behind the commit wake-ups), queues
  sync runs whose worker died again and purges old delivered rows.
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
