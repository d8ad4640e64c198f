"""API keys: `x-api-key: <key>` (Orangepill's header) or `Authorization: Bearer <key>`. The key decides the
realm and the owner; keys are compared by hash in constant time (identities.services.api_key_authenticate)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from identities import throttle
from identities.models import ApiKey
from identities.services import api_key_authenticate, api_key_prefix

MSG_MISSING = "Authentication required: send your API key in the x-api-key header (or Authorization: Bearer)."
MSG_INVALID = "The API key is not valid or has been revoked."


class ApiClient:
    """request.user of an API request: the integrator behind the key."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.realm = key.realm
        self.owner = key.owner

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


def key_from_request(request) -> str | None:
    plain = request.META.get("HTTP_X_API_KEY")
    if plain:
        return plain.strip()
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        plain = key_from_request(request)
        if not plain:
            return None
        subjects = throttle.api_subjects(request, api_key_prefix(plain))  # identities.throttle: brute force
        key = api_key_authenticate(plain)
        wait = throttle.locked_seconds_cached(subjects) if key else throttle.locked_seconds(subjects)
        if wait:
            raise exceptions.Throttled(wait, throttle.MSG_API_LOCKED)
        if key is None:
            throttle.record_failure(subjects)
            raise exceptions.AuthenticationFailed(MSG_INVALID)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="cdpadmin"'


class HasApiKey(BasePermission):
    message = MSG_MISSING

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)
