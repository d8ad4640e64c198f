"""Workflow rows of the Infobip integration: the outbox of changes to push, its attempts, and sync runs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from infobip.ratelimit import RateLimitBucket  # the shared rate limiter's table

__all__ = ["OutboxAttempt", "OutboxEntry", "OutboxWakeup", "RateLimitBucket", "SyncRun"]


class OutboxEntity(models.TextChoices):
    PERSON = "person"
    COMPANY = "company"
    TAG = "tag"
    CUSTOM_ATTRIBUTE = "custom_attribute"
    EVENT_DEFINITION = "event_definition"
    EVENT = "event"
    MERGE = "merge"


class OutboxOp(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SEND = "send"  # events
    MERGE = "merge"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Delivered"
    DEAD = "dead", "Failed (dead letter)"
    SKIPPED = "skipped", "Skipped"
    SUPERSEDED = "superseded", "Superseded (obsolete)"  # a later change made it obsolete: never sent


class OutboxEntry(models.Model):
    """One change that must reach Infobip, written in the same transaction as the change itself.

    `payload` carries only what the mirror cannot tell later: identifiers of deleted rows, removed contacts
    and tags, changed field names. The worker reads the entity's current state when it sends.
    """

    # No index of its own: outbox_entity_order and outbox_realm_status lead with the realm.
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="outbox", db_index=False)
    entity = models.CharField(max_length=20, choices=OutboxEntity.choices)
    entity_id = models.CharField(max_length=64)
    op = models.CharField(max_length=10, choices=OutboxOp.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker delivering this row (HTTP runs outside any transaction, so a row lock cannot
    # last that long): other workers skip the row until `locked_until`, then take it over.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    locked_by = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox"
        permissions = [("retry_outboxentry", "Can retry or discard failed Infobip pushes")]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], name="outbox_due", condition=models.Q(status="pending")),
            # The claim walks the pending heads in id order and stops at its limit, past the delivered rows the
            # purge keeps for days (the primary key would read every one of them first).
            models.Index(fields=["id"], name="outbox_pending_order", condition=models.Q(status="pending")),
            models.Index(fields=["realm", "entity", "entity_id", "id"], name="outbox_entity_order"),
            models.Index(fields=["realm", "status", "-processed_at"], name="outbox_realm_status"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id} {self.op} ({self.status})"


class OutboxAttempt(models.Model):
    entry = models.ForeignKey(OutboxEntry, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    request = models.CharField(max_length=500, blank=True, help_text="Method, path and a summary of the body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # The admin's "failed calls per hour": failures are few, so a partial index keeps that read small.
            models.Index(fields=["started_at"], name="outbox_attempt_failed", condition=models.Q(ok=False)),
        ]

    def __str__(self) -> str:
        return f"{self.request} → {self.status_code or self.error[:40]}"


class OutboxWakeup(models.Model):
    """A debounce marker: while `key` is set (until `until`, epoch seconds), a drain task is already queued,
    so a commit does not queue another. The drain clears it when it starts."""

    key = models.CharField(max_length=100, primary_key=True)
    until = models.FloatField()

    def __str__(self) -> str:
        return self.key


class SyncRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class SyncRun(models.Model):
    """One run of the three-step two-way sync, with its parameters, progress and outcome."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="sync_runs")
    owner = models.CharField(max_length=24, blank=True, help_text="API user (24-hex) that started the run.")
    started_by = models.CharField(max_length=150, blank=True, help_text="Staff user or API key that started it.")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.QUEUED)
    step = models.PositiveSmallIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True, help_text="Pages done, counts per step, cursor.")
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it (stale: resumed)."
    )

    class Meta:
        ordering = ["-created"]
        permissions = [("start_syncrun", "Can start, resume and cancel Infobip sync runs")]
        indexes = [models.Index(fields=["realm", "-created"], name="syncrun_realm_created")]

    def __str__(self) -> str:
        return f"Sync #{self.pk} ({self.status})"
