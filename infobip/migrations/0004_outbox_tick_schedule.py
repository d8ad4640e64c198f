"""Registers the minute schedule of the Infobip integration with django-q2, idempotently (update_or_create).

`infobip.tasks.outbox_tick` drains the outbox (the safety net behind the wake-up queued on commit), queues sync
runs whose worker died again, and purges old delivered rows. A data migration, as the other schedules of the
project, so every environment that runs `migrate` (and so `make run`) has it; `manage.py setup_schedules`
puts it back if someone deleted it in the admin.
"""

from django.db import migrations

SCHEDULE_NAME = "infobip-outbox-tick"


def register(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "infobip.tasks.outbox_tick", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unregister(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("infobip", "0003_outbox_lease_sync_heartbeat_permissions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
