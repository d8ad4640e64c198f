from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower

from core.models import TimeStampedModel
from people.models import Origin, SyncStateMixin

# Limits from Infobip's IamCompanyV2 schema (infobip/sandbox/infobip-people-openapi.json).
COMPANY_NAME_MAX = 255
COMPANY_NOTES_MAX = 1023
COMPANY_TEXT_MAX = 255


class Company(TimeStampedModel, SyncStateMixin):
    realm = models.ForeignKey("identities.Realm", on_delete=models.PROTECT, related_name="companies")
    name = models.CharField(max_length=COMPANY_NAME_MAX)
    external_id = models.CharField("externalId", max_length=256, null=True, blank=True)
    notes = models.TextField(max_length=COMPANY_NOTES_MAX, blank=True)
    country = models.CharField(max_length=50, blank=True)
    region = models.CharField(max_length=COMPANY_TEXT_MAX, blank=True)
    account_manager = models.CharField(max_length=COMPANY_TEXT_MAX, blank=True)
    customer_stage = models.CharField(max_length=COMPANY_TEXT_MAX, blank=True)
    industry = models.CharField(max_length=COMPANY_TEXT_MAX, blank=True)
    segment = models.CharField(max_length=COMPANY_TEXT_MAX, blank=True)
    vat_number = models.CharField("VAT number", max_length=50, blank=True)
    domains = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    tags = models.ManyToManyField("people.Tag", blank=True, related_name="companies")
    custom_attributes = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.API)
    modified_from = models.CharField(max_length=20, choices=Origin.choices, default=Origin.API)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint(Lower("name"), "realm", name="company_name_unique_ci"),
            models.UniqueConstraint(
                fields=["realm", "external_id"],
                name="company_external_id_unique",
                condition=models.Q(external_id__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["realm", "infobip_id"],
                name="company_infobip_id_unique",
                condition=models.Q(infobip_id__isnull=False),
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="company_name_not_empty"),
        ]
        indexes = [models.Index(fields=["realm", "-id"], name="company_realm_id")]

    def __str__(self) -> str:
        return self.name
