"""The one client for Infobip's People / Customer Profiles API: :class:`InfobipClient` and its typed errors.

transport.py holds the one path every request takes (rate limit, timeout, safe retries, typed errors);
persons.py and reference.py the endpoint methods; errors.py the error types. :func:`client_for_realm` gives
the cached client of a realm's Infobip account.
"""

from __future__ import annotations

import threading
from typing import Any

from infobip.client.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InfobipError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
    Unreachable,
    ValidationError,
    parse_error,
)
from infobip.client.persons import PersonEndpoints
from infobip.client.reference import ReferenceEndpoints
from infobip.client.transport import FoundExisting
from infobip.contract.limits import scope_for

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "FoundExisting",
    "InfobipClient",
    "InfobipError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Timeout",
    "Unauthorized",
    "Unreachable",
    "ValidationError",
    "clear_client_cache",
    "client_for_realm",
    "parse_error",
]


class InfobipClient(PersonEndpoints, ReferenceEndpoints):
    """A client for one Infobip account (base URL + API key); see Transport for the options."""


# --- per-realm clients -------------------------------------------------------------------------------

_clients: dict[tuple[str, str], InfobipClient] = {}
_clients_lock = threading.Lock()


def client_for_realm(realm: Any, **options: Any) -> InfobipClient:
    """The cached client for a realm's Infobip account (one Session per base URL + API key).

    Which key may go to which URL is :func:`infobip.hosts.realm_credentials`'s rule (a realm's own key only to
    its own URL, the server-wide key only to the server-wide URL); the rate limiter comes from
    :func:`infobip.ratelimit.rate_limiter_from_settings` and is shared by all clients of the account.
    """
    # Imported here, not at the top: the client itself imports without Django (infobip.ratelimit defines a model).
    from django.conf import settings

    from infobip.hosts import realm_credentials
    from infobip.ratelimit import rate_limiter_from_settings

    base_url, api_key = realm_credentials(realm)
    key = (base_url.rstrip("/"), api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            options.setdefault("timeout", getattr(settings, "INFOBIP_TIMEOUT", 10.0))
            for option, setting in (
                ("max_retries", "INFOBIP_MAX_RETRIES"),
                ("backoff", "INFOBIP_BACKOFF"),
                ("backoff_cap", "INFOBIP_BACKOFF_CAP"),
            ):
                if hasattr(settings, setting):
                    options.setdefault(option, getattr(settings, setting))
            if "rate_limiter" not in options:
                options["rate_limiter"] = rate_limiter_from_settings(scope=scope_for(*key))
            client = InfobipClient(base_url, api_key, **options)
            _clients[key] = client
        return client


def clear_client_cache() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
