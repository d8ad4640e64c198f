"""Where an Infobip key may go: the allow-list of base URLs and the pairing of keys with URLs.

Invariants:

* The client calls :func:`check_base_url` before every HTTP call, so no path (form, command, shell, SQL)
  can make the worker send ``Authorization: App …`` to a host outside ``INFOBIP_ALLOWED_HOSTS``.
* A realm's own key goes only to the URL it was entered with (changing the URL clears it, see
  ``identities.models.Realm``); the server-wide ``INFOBIP_API_KEY`` goes only to ``INFOBIP_BASE_URL``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class HostNotAllowed(ValueError):
    """A base URL outside the allow-list (or not https for a remote host)."""


class MissingKey(ValueError):
    """A realm with its own base URL but no key for it: the server-wide key is never sent there."""


def allowed_hosts() -> list[str]:
    return [pattern.lower() for pattern in getattr(settings, "INFOBIP_ALLOWED_HOSTS", [])]


def check_base_url(url: str) -> str:
    """`url` if its host is allowed; raises HostNotAllowed otherwise (the message never carries a key)."""
    try:
        parts = urlsplit(url or "")
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        raise HostNotAllowed(f"{url!r} is not a valid URL") from exc
    if parts.scheme not in {"http", "https"} or not host or parts.username or parts.password:
        raise HostNotAllowed(f"{url!r} is not an http(s) URL with a host")
    if parts.scheme != "https" and host not in LOCAL_HOSTS:
        raise HostNotAllowed(f"Infobip base URLs must use https: {url!r}")
    if not any(fnmatchcase(host, pattern) for pattern in allowed_hosts()):
        raise HostNotAllowed(
            f"{host!r} is not an allowed Infobip host (INFOBIP_ALLOWED_HOSTS: {', '.join(allowed_hosts()) or 'none'})"
        )
    return url


def same_url(a: str | None, b: str | None) -> bool:
    return (a or "").strip().rstrip("/").lower() == (b or "").strip().rstrip("/").lower()


def realm_credentials(realm: Any) -> tuple[str, str]:
    """(base URL, API key) for a realm's calls; raises MissingKey / HostNotAllowed (ValueErrors).

    A realm without its own URL uses the server-wide URL with its own key or else the server-wide key. A realm
    with its own URL uses its own key; the server-wide key only when that URL *is* the server-wide URL.
    """
    server_url = getattr(settings, "INFOBIP_BASE_URL", None) or ""
    server_key = getattr(settings, "INFOBIP_API_KEY", None) or ""
    own_url = getattr(realm, "infobip_base_url", None) or ""
    own_key = getattr(realm, "infobip_api_key", None) or ""
    name = getattr(realm, "pk", realm)
    if own_url and not same_url(own_url, server_url):
        if not own_key:
            raise MissingKey(
                f"realm {name!r} has its own Infobip base URL but no API key for it; enter the key in "
                "admin > Realms (the server-wide key is only sent to INFOBIP_BASE_URL)"
            )
        base_url, api_key = own_url, own_key
    else:
        base_url, api_key = server_url, own_key or server_key
    if not base_url or not api_key:
        raise MissingKey(f"realm {name!r} has no Infobip base URL / API key configured")
    return check_base_url(base_url), api_key
