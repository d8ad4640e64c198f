"""Registers the nightly duplicate rescan with django-q2's scheduler, idempotently (update_or_create by name).

Staff may change its time in the admin (Task queue > Scheduled tasks); re-running this migration (after a
rollback) puts the function and type back but keeps an existing next run.
"""

import datetime as dt

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "people.duplicates_nightly_rescan"


def register(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    tomorrow = timezone.now().replace(hour=2, minute=30, second=0, microsecond=0) + dt.timedelta(days=1)
    schedule, created = Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "people.tasks.duplicates_rescan_all", "schedule_type": "D", "repeats": -1},
    )
    if created or schedule.next_run is None:
        schedule.next_run = tomorrow
        schedule.save(update_fields=["next_run"])


def unregister(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_duplicates_and_undo"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
