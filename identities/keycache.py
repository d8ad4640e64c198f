"""A short-lived in-process cache of authenticated API keys, so a request does not ask the database who it is.

Every API request used to start with a query for its key and realm. Here a key found once is kept for
``API_KEY_CACHE_SECONDS`` (default 5) by its prefix, as plain values: the stored hash, the key's and the
realm's columns. A hit still compares the presented key's hash with the stored one in constant time; a miss,
an unknown prefix or a failed comparison goes to the database as before.

Staleness bound and invalidation:

* Every entry carries the *generation* it was loaded under; the generation is a token in Django's cache that
  ``api_keys_changed()`` replaces. Revoking a key (``api_key_revoke``, ``api_keys_revoke``, the admin action)
  and saving or deleting any ApiKey or Realm call it, so the next request of the same process reloads.
* With a shared cache (Redis, ``REDIS_URL``) the generation is shared, so a revocation is seen by every
  process on its next request. With the default per-process cache (LocMem) the other processes see it when
  their entry expires: **a revoked key (or a changed realm) keeps working in another process for at most
  API_KEY_CACHE_SECONDS**.
* A change made behind Django's back (SQL, ``QuerySet.update`` outside the services) is seen after the TTL.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from identities.models import ApiKey, Realm

GENERATION_KEY = "cdpadmin:api-keys:generation"

# prefix → (expires at (monotonic), generation, key hash, key columns, realm columns)
_entries: dict[str, tuple[float, str, str, tuple, tuple]] = {}


def ttl() -> float:
    return float(getattr(settings, "API_KEY_CACHE_SECONDS", 5))


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, secrets.token_hex(8), None)
        generation = cache.get(GENERATION_KEY) or ""
    return generation


def api_keys_changed(**_: Any) -> None:
    """Forget every cached key here and (through the shared generation) wherever the cache is shared."""
    cache.set(GENERATION_KEY, secrets.token_hex(8), None)
    _entries.clear()


def cached_key(prefix: str, plain: str, hash_plain) -> Any | None:
    """The ApiKey (realm attached) cached for `prefix` if it is fresh and `plain` matches its hash, else None.

    None also when the entry exists but the key does not match: the caller then asks the database, which
    decides (so a cache can never turn a wrong key into a right one, nor the other way round).
    """
    entry = _entries.get(prefix)
    if entry is None:
        return None
    expires, generation, key_hash, key_values, realm_values = entry
    if time.monotonic() >= expires or generation != _generation():
        _entries.pop(prefix, None)
        return None
    if not hmac.compare_digest(key_hash, hash_plain(plain)):
        return None
    return _build(key_values, realm_values)


def remember(key) -> None:
    key_values = tuple(getattr(key, f.attname) for f in ApiKey._meta.concrete_fields)
    realm_values = tuple(getattr(key.realm, f.attname) for f in Realm._meta.concrete_fields)
    _entries[key.prefix] = (time.monotonic() + ttl(), _generation(), key.key_hash, key_values, realm_values)


def _build(key_values: tuple, realm_values: tuple):
    """Fresh model instances for every request, so nothing one request sets on them leaks into another."""
    key = ApiKey.from_db("default", [f.attname for f in ApiKey._meta.concrete_fields], key_values)
    key.realm = Realm.from_db("default", [f.attname for f in Realm._meta.concrete_fields], realm_values)
    return key


def connect_signals() -> None:
    for model in (ApiKey, Realm):
        post_save.connect(api_keys_changed, sender=model, dispatch_uid=f"keycache-save-{model.__name__}")
        post_delete.connect(api_keys_changed, sender=model, dispatch_uid=f"keycache-delete-{model.__name__}")
