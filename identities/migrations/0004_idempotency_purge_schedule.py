"""Registers the hourly django-q2 Schedule that purges idempotency keys older than 24 hours.

A data migration rather than a command so every environment that runs `migrate` has the schedule; it is
idempotent (update_or_create by name) and removed again on reverse.
"""

from django.db import migrations

SCHEDULE_NAME = "identities.idempotency_purge"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "identities.tasks.idempotency_purge", "schedule_type": "H", "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("identities", "0003_idempotency_record"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
