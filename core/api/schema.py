"""OpenAPI pieces shared by every app's views: the error envelope, list parameters, the idempotency header,
the API-key security scheme, and the hook that keeps the misspelled alias out of the document."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from core.api.listing import LIMIT_DEFAULT, LIMIT_MAX


class ErrorSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Error class, e.g. ValidationError, NotFound, Unauthorized.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.IntegerField(help_text="The HTTP status.")
    type = serializers.CharField(help_text="Machine-readable reason, e.g. validation_error, invalid_filter.")
    data = serializers.DictField(
        help_text='Details; validation errors carry {"fields": {"<field>": ["<reason>", ...]}}.'
    )

    class Meta:
        ref_name = "Error"


VALIDATION_EXAMPLE = OpenApiExample(
    "Validation error",
    value={
        "name": "ValidationError",
        "message": "Invalid input. firstName: contains the forbidden character '#'",
        "code": 400,
        "type": "validation_error",
        "data": {"fields": {"firstName": ["contains the forbidden character '#'"]}},
    },
    response_only=True,
    status_codes=["400"],
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: "Invalid input: the envelope names each field and reason.",
        401: "Missing, wrong or revoked API key.",
        404: "No such object in the key's realm.",
        409: "Conflict: the object's state forbids it, or the same idempotency-key is still in flight.",
        413: "The body is larger than API_MAX_BODY_BYTES (5 MB by default; for an upload, its non-file fields).",
        415: "The body is not application/json.",
        422: "The idempotency-key was first used with another method, path or body.",
        429: "Too many invalid API keys from this address or for this key: locked for a while (Retry-After).",
    }
    if 401 in statuses:  # wherever a key is checked, the brute-force lockout (identities.throttle) may answer
        statuses = (*statuses, 429)
    return {
        status: OpenApiResponse(
            ErrorSerializer, description=descriptions[status], examples=[VALIDATION_EXAMPLE] if status == 400 else []
        )
        for status in statuses
    }


READ_ERRORS = error_responses(400, 401, 404)
WRITE_ERRORS = error_responses(400, 401, 404, 409, 413, 415, 422)

IDEMPOTENCY_KEY = OpenApiParameter(
    "idempotency-key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Optional. A repeat with the same key and the same request returns the stored response (status and body) "
        "with the header Idempotent-Replayed: true and does nothing twice. The same key with another method, path "
        "or body is a 422; a repeat while the first is still running a 409. Keys are per API key, kept 24 hours."
    ),
)


def list_parameters(order_fields: list[str], default_order: str, *, filter_help: str | None = None):
    params = [
        OpenApiParameter("limit", OpenApiTypes.INT, description=f"Page size 1..{LIMIT_MAX}, default {LIMIT_DEFAULT}."),
        OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1 (default 1)."),
        OpenApiParameter(
            "orderBy",
            OpenApiTypes.STR,
            description=f"`field:asc` or `field:desc`; fields: {', '.join(order_fields)} (default {default_order}).",
        ),
        OpenApiParameter("includeTotalCount", OpenApiTypes.BOOL, description="Add totalCount to the answer."),
    ]
    if filter_help:
        params.append(OpenApiParameter("filter", OpenApiTypes.STR, description=filter_help))
    return params


FILTER_HELP = (
    "Infobip's filter language as JSON: `#and`, `#or`, `#eq`, `#ne`, `#contains`, `#notContain`, `#startsWith`, "
    "`#endsWith`, `#gt`, `#lt`, `#gte`, `#lte` and the equality shorthand, e.g. "
    '`{"#and":[{"firstName":"Alex"},{"#contains":{"tags":"VIP Client"}}]}`. `#contains` on tags matches the exact '
    "tag name; custom attributes are `customAttributes.<name>` and must be defined. An invalid filter is a 400 "
    "naming the problem and where it is."
)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "identities.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "Your API key. `Authorization: Bearer <key>` is accepted too.",
        }


def exclude_alias_paths(endpoints, **kwargs):
    """The /v1/identitites/ alias answers like /v1/identities/; documenting both would only double the spec."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/v1/identitites")]


class ApiAutoSchema(AutoSchema):
    """Operation ids named after the view and method (`identity_detail_get`): stable and never colliding."""

    def get_operation_id(self):
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", self.view.__class__.__name__.removesuffix("View")).lower()
        return f"{name}_{self.method.lower()}"
