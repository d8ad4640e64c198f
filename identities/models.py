from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.models import TimeStampedModel
from identities.ids import new_object_id

country_code_validator = RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 code such as HR or US.")
currency_code_validator = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as EUR or USD.")
hex24_validator = RegexValidator(r"^[0-9a-f]{24}$", "Use a 24-character lowercase hexadecimal id.")


class Realm(TimeStampedModel):
    """An isolated data domain: identities, persons, companies and keys never cross realms."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    default_country = models.CharField(max_length=2, default="US", validators=[country_code_validator])
    default_currency = models.CharField(max_length=3, default="USD", validators=[currency_code_validator])
    cdp_enabled = models.BooleanField(
        "Infobip CDP extension enabled", default=False, help_text="Changes are pushed to Infobip only when enabled."
    )
    infobip_base_url = models.URLField("Infobip base URL", blank=True, help_text="Empty: the server-wide default.")
    infobip_api_key = models.CharField("Infobip API key", max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(default_country__regex=r"^[A-Z]{2}$"), name="realm_country_iso2"),
            models.CheckConstraint(
                condition=models.Q(default_currency__regex=r"^[A-Z]{3}$"), name="realm_currency_iso3"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def infobip_api_key_masked(self) -> str:
        key = self.infobip_api_key
        if not key:
            return ""
        return f"{'•' * 8}{key[-4:]}" if len(key) > 8 else "•" * 8


class RealmMember(TimeStampedModel):
    """Grants a staff user access to a realm in the admin. Superusers see every realm."""

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="realm_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["realm", "user"], name="realm_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.realm}"


def hash_api_key(plain: str) -> str:
    # Keys are 256-bit random secrets, so a fast keyed hash is enough (no password stretching needed);
    # the pepper keeps a leaked table useless without the settings.
    return hmac.new(settings.SECRET_KEY.encode(), plain.encode(), hashlib.sha256).hexdigest()


class ApiKey(TimeStampedModel):
    """An integrator's key. Only a hash is stored; the plain key is shown once, when created."""

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="api_keys")
    owner = models.CharField(max_length=24, default=new_object_id, validators=[hex24_validator])
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.realm})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, plain: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_api_key(plain))


class IdentityType(models.TextChoices):
    NEUTRAL = "neutral", "Neutral"
    PERSON = "person", "Person"
    COMPANY = "company", "Company"


class Identity(TimeStampedModel):
    """An Orangepill-style identity: the holder of accounts, linked to an Infobip person and/or company."""

    id = models.CharField(primary_key=True, max_length=24, default=new_object_id, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.PROTECT, related_name="identities")
    owner = models.CharField(max_length=24, validators=[hex24_validator])
    type = models.CharField(max_length=10, choices=IdentityType.choices, default=IdentityType.NEUTRAL)
    country = models.CharField(max_length=2, validators=[country_code_validator])
    currency = models.CharField(max_length=3, validators=[currency_code_validator])
    alias = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="identities"
    )
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="identities"
    )

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["realm", "-created"], name="identity_realm_created"),
            models.Index(Lower("alias"), "realm", name="identity_realm_alias"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=IdentityType.values), name="identity_type_valid"),
            models.CheckConstraint(condition=models.Q(id__regex=r"^[0-9a-f]{24}$"), name="identity_id_hex24"),
            models.CheckConstraint(condition=models.Q(owner__regex=r"^[0-9a-f]{24}$"), name="identity_owner_hex24"),
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="identity_country_iso2"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="identity_currency_iso3"),
        ]

    def __str__(self) -> str:
        return self.alias or self.id

    @property
    def created_at_ms(self) -> int:
        return int(self.created.timestamp() * 1000)


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(models.Model):
    """One `idempotency-key` of a realm: the request it was first used with and, once done, its response.

    A repeat of the same request replays the stored response; the same key with another request is refused.
    Rows live 24 hours (identities.tasks.idempotency_purge removes older ones).
    """

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path, query and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    status = models.CharField(max_length=12, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    locked_at = models.DateTimeField(default=timezone.now, help_text="When the request holding the key started.")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "idempotency key"
        constraints = [
            models.UniqueConstraint(fields=["realm", "key"], name="idempotency_key_unique_per_realm"),
            models.CheckConstraint(
                condition=models.Q(status__in=["in_progress", "completed"]), name="idempotency_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["created"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"
