"""Registers the daily django-q2 Schedule that purges anonymous visitors past retention (default 30 days).

Idempotent (update_or_create by name) and removed again on reverse, like identities' idempotency purge.
"""

import datetime as dt

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "tracking.visitors_purge"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "tracking.tasks.visitors_purge",
            "schedule_type": "D",
            "repeats": -1,
            "next_run": timezone.now() + dt.timedelta(days=1),  # the first purge a day after install
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
