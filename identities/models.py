from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core import crypto
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
    # A Fernet token (core.crypto); read and write the plain key through `infobip_api_key`. A key belongs to
    # the URL it was entered with: changing the URL without entering a key clears it, here in save() and in
    # the database (the trigger of migration 0005, for QuerySet.update and SQL).
    infobip_api_key_encrypted = models.TextField("Infobip API key (encrypted)", blank=True, editable=False)

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

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_infobip()
        return instance

    def _remember_infobip(self) -> None:
        loaded = self.__dict__
        self._loaded_infobip = (loaded.get("infobip_base_url"), loaded.get("infobip_api_key_encrypted"))

    def save(self, *args, **kwargs):
        url, token = getattr(self, "_loaded_infobip", (None, None))
        update_fields = kwargs.get("update_fields")
        saves_url = update_fields is None or "infobip_base_url" in update_fields
        if saves_url and url is not None and url != self.infobip_base_url and self.infobip_api_key_encrypted == token:
            self.infobip_api_key_encrypted = ""  # the URL changed and the key was not entered again
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "infobip_api_key_encrypted"}
        super().save(*args, **kwargs)
        self._remember_infobip()

    @property
    def infobip_api_key(self) -> str:
        """The plain key (decrypted on first use). Setting it encrypts; a new token even for the same key."""
        token = self.infobip_api_key_encrypted
        cached = self.__dict__.get("_infobip_key_plain")
        if cached is None or cached[0] != token:
            cached = (token, crypto.decrypt(token))
            self.__dict__["_infobip_key_plain"] = cached
        return cached[1]

    @infobip_api_key.setter
    def infobip_api_key(self, plain: str | None) -> None:
        self.infobip_api_key_encrypted = crypto.encrypt(plain or "")

    @property
    def infobip_api_key_masked(self) -> str:
        try:
            key = self.infobip_api_key
        except crypto.DecryptionError:
            return "(cannot be decrypted: check FIELD_ENCRYPTION_KEYS)"
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
    return hmac.new(settings.API_KEY_PEPPER.encode(), plain.encode(), hashlib.sha256).hexdigest()


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
    """One `idempotency-key` of an API key (in its realm): the request it was first used with and, once done,
    its response. Two integrators of one realm may use the same key string without meeting.

    A repeat of the same request replays the stored response; the same key with another request is refused.
    Rows live 24 hours (identities.tasks.idempotency_purge removes older ones).
    """

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="The key whose requests share this idempotency key; empty only for rows made before 0007.",
    )  # fmt: skip
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
            models.UniqueConstraint(
                fields=["api_key", "key"],
                name="idempotency_key_unique_per_api_key",
                condition=models.Q(api_key__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["realm", "key"],
                name="idempotency_key_unique_per_realm",
                condition=models.Q(api_key__isnull=True),
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["in_progress", "completed"]), name="idempotency_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["created"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"


class ThrottleKind(models.TextChoices):
    ADMIN_ADDRESS = "admin_address", "Admin login, client address"
    ADMIN_ACCOUNT = "admin_account", "Admin login, username"
    API_ADDRESS = "api_address", "API key, client address"
    API_KEY = "api_key", "API key, key prefix"


class AuthThrottle(models.Model):
    """Failed logins or API key uses of one client address or account in the current window, and its lockout.

    Shared by every process through PostgreSQL (identities.throttle updates it with one upsert per failure).
    """

    kind = models.CharField(max_length=20, choices=ThrottleKind.choices)
    subject = models.CharField(max_length=255, help_text="The client address, username or API key prefix.")
    window_started = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "login lockout"
        ordering = ["-last_failure_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "subject"], name="auth_throttle_unique")]
        indexes = [models.Index(fields=["last_failure_at"], name="auth_throttle_last_failure")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()
