"""Anonymous visitors of a realm's website: sites with a public key, visitors, sessions and their events.

A site key is public (it sits in a web page): it can only write tracking rows of its own site, never read.
A visitor is the browser's anonymous id; ``identify`` links it to a person, and its events then belong to that
person's timeline. Events carry the browser's own id, unique per visitor, so a retried batch adds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone

SITE_KEY_PREFIX = "cdpsite_"
ANONYMOUS_ID_MAX = 64
EVENT_NAME_MAX = 100
URL_MAX = 2048


def new_site_key() -> str:
    return SITE_KEY_PREFIX + secrets.token_urlsafe(24)


def new_site_secret() -> str:
    return secrets.token_hex(32)


class EventKind(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    ACTION = "action", "Custom action"


class Site(models.Model):
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="tracking_sites")
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=64, unique=True, default=new_site_key, editable=False)
    secret = models.CharField(
        max_length=64,
        default=new_site_secret,
        editable=False,
        help_text="Server-side only: the site's backend signs identify tokens with it (HMAC-SHA256).",
    )
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text='Origins allowed to send events, e.g. ["https://shop.example.com"].'
    )
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.name

    def identity_token(self, kind: str, value: str) -> str:
        """The proof a login identify carries: HMAC-SHA256 of "<kind>:<value>" (kind: email, phone, externalId)."""
        return hmac.new(self.secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins}


class Visitor(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="visitors")
    anonymous_id = models.CharField(max_length=ANONYMOUS_ID_MAX)
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_seen = models.DateTimeField(default=timezone.now)
    identified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "anonymous_id"], name="visitor_site_anonymous_id")]
        indexes = [models.Index(fields=["realm", "person"], name="visitor_realm_person")]

    def __str__(self) -> str:
        return self.anonymous_id


class VisitSession(models.Model):
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.CharField(max_length=ANONYMOUS_ID_MAX)
    started_at = models.DateTimeField()
    last_event_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visitor", "session_id"], name="session_visitor_id")]

    def __str__(self) -> str:
        return self.session_id


class TrackEvent(models.Model):
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="events")
    session = models.ForeignKey(VisitSession, null=True, on_delete=models.SET_NULL, related_name="events")
    person = models.ForeignKey("people.Person", null=True, on_delete=models.SET_NULL, related_name="track_events")
    event_id = models.CharField(max_length=ANONYMOUS_ID_MAX, help_text="The browser's id: a retry adds nothing.")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    name = models.CharField(max_length=EVENT_NAME_MAX)
    url = models.CharField(max_length=URL_MAX, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["visitor", "event_id"], name="track_event_visitor_event_id")]
        indexes = [models.Index(fields=["person", "occurred_at"], name="track_event_person_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


FORM_SLUG_MAX = 50
FORM_FIELDS_MAX = 50
FORM_VALUE_MAX = 4096


class SubmissionOutcome(models.TextChoices):
    CREATED = "created", "New lead"
    LEAD = "lead", "Lead updated"
    CUSTOMER = "customer", "Customer (left untouched)"


class Form(models.Model):
    """A website form defined in the admin: its site's key sends it (``POST /v1/forms/<slug>/submissions``), its
    mapping says which person field each form field fills."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="forms")
    slug = models.SlugField(max_length=FORM_SLUG_MAX, help_text="The form's name in its URL: /v1/forms/<slug>/...")
    name = models.CharField(max_length=200)
    field_mapping = models.JSONField(
        default=dict,
        help_text='Form field → person field: {"mail": "email", "tel": "phone", "ime": "firstName", '
        '"tier": "customAttributes.Tier"}. Fields not named are kept with the submission only.',
    )
    tags = models.JSONField(default=list, blank=True, help_text='Tags a submitting lead gets, e.g. ["Newsletter"].')
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "slug"], name="form_site_slug")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError as DjangoValidationError

        from tracking.form_mapping import mapping_problems

        problems = mapping_problems(self.field_mapping)
        if problems:
            raise DjangoValidationError({"field_mapping": problems})


class FormSubmission(models.Model):
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="submissions")
    person = models.ForeignKey("people.Person", null=True, on_delete=models.SET_NULL, related_name="form_submissions")
    visitor = models.ForeignKey(Visitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, help_text="The form's fields as sent.")
    outcome = models.CharField(max_length=10, choices=SubmissionOutcome.choices)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.form} #{self.pk}"
