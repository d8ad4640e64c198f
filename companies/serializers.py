"""Company JSON at the API's edge: request bodies → service arguments, and the documented shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from companies.models import Company
from core.errors import ErrorCollector
from people.fields import COMPANY_ATTRIBUTES
from people.models import Origin, SyncStatus

COMPANY_READ_ONLY = {"id", "createdAt", "modifiedAt", "origin", "modifiedFrom", "infobipId", "syncStatus", "syncError"}


def company_args(data: dict[str, Any]) -> dict[str, Any]:
    """A company body (Infobip's IamCompanyV2 shape) → company_create/company_update keyword arguments."""
    errors = ErrorCollector()
    args: dict[str, Any] = {"attributes": {}}
    for key, value in data.items():
        if key in COMPANY_ATTRIBUTES:
            args["attributes"][COMPANY_ATTRIBUTES[key]] = value
        elif key == "tags":
            if not isinstance(value, list):
                errors.add("tags", "must be a list of tag names")
            else:
                args["tags"] = value
        elif key == "customAttributes":
            if not isinstance(value, dict):
                errors.add("customAttributes", "must be an object of name → value")
            else:
                args["custom_attributes"] = value
        elif key not in COMPANY_READ_ONLY:
            errors.add(key, "is not a company field")
    errors.raise_if_any()
    return args


class CompanyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, help_text="Required on create; unique in the realm (any case).")
    externalId = serializers.CharField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    country = serializers.CharField(required=False, allow_blank=True)
    region = serializers.CharField(required=False, allow_blank=True)
    accountManager = serializers.CharField(required=False, allow_blank=True)
    customerStage = serializers.CharField(required=False, allow_blank=True)
    industry = serializers.CharField(required=False, allow_blank=True)
    segment = serializers.CharField(required=False, allow_blank=True)
    vatNumber = serializers.CharField(required=False, allow_blank=True)
    domains = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    customAttributes = serializers.DictField(required=False)

    class Meta:
        ref_name = "CompanyWrite"


class CompanySerializer(serializers.Serializer):
    createdAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    modifiedAt = serializers.CharField(help_text="YYYY-MM-DDTHH:MM:SS, UTC")
    id = serializers.IntegerField()
    name = serializers.CharField()
    externalId = serializers.CharField(allow_null=True)
    notes = serializers.CharField(allow_blank=True)
    country = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_blank=True)
    accountManager = serializers.CharField(allow_blank=True)
    customerStage = serializers.CharField(allow_blank=True)
    industry = serializers.CharField(allow_blank=True)
    segment = serializers.CharField(allow_blank=True)
    vatNumber = serializers.CharField(allow_blank=True)
    domains = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    customAttributes = serializers.DictField()
    origin = serializers.ChoiceField(Origin.choices)
    modifiedFrom = serializers.ChoiceField(Origin.choices)
    infobipId = serializers.IntegerField(allow_null=True)
    syncStatus = serializers.ChoiceField(SyncStatus.choices)
    syncError = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "Company"


class CompanyListSerializer(serializers.Serializer):
    companies = CompanySerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


__all__ = ["Company", "CompanyListSerializer", "CompanySerializer", "CompanyWriteSerializer", "company_args"]
