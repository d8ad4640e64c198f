"""Secrets at rest: Fernet tokens under the keys of ``FIELD_ENCRYPTION_KEYS`` (the first encrypts, all decrypt).

Rotation: put a new key first, keep the old ones after it, run ``manage.py rotate_encryption_keys`` (re-encrypts
every stored secret with the first key), then drop the old keys. Messages here never carry a secret.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_PREFIX = "gAAAAA"  # noqa: S105 - every Fernet token starts with version byte 0x80 + a timestamp


class DecryptionError(ValueError):
    """A stored secret none of FIELD_ENCRYPTION_KEYS can open."""


def derived_key(secret: str) -> str:
    """The development key: derived from SECRET_KEY (settings use it only when DEVELOPMENT is on)."""
    digest = hashlib.sha256(b"cdpadmin field encryption|" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set one or more Fernet keys")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS") from exc


def rotate(token: str) -> str:
    """The same secret encrypted with the first key (raises DecryptionError when no key opens it)."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS") from exc


def is_token(value: str) -> bool:
    return bool(value) and value.startswith(TOKEN_PREFIX)
