"""Infobip's published limits and formats the sandbox enforces, the parsed person input and error collector."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from infobip.contract.limits import MAX_BATCH, MAX_EVENT_BATCH  # noqa: F401 (re-exported: the handlers read st.MAX_BATCH)

FORBIDDEN_NAME_CHARS = frozenset('&<>"/\\\n\r:(){}=;#')
PERSON_STRING_LIMITS = {
    "externalId": 256,
    "firstName": 255,
    "lastName": 255,
    "middleName": 50,
    "nickName": 50,  # PersonV3 (and stored from v2 bodies too: our mirror pushes it)
    "address": 256,
    "city": 50,
    "country": 50,
    "preferredLanguage": 10,
    "profilePicture": 2083,
    "birthDate": 10,
}
NAME_FIELDS = ("firstName", "lastName", "middleName", "nickName")
PERSON_SCALARS = (
    "externalId",
    "firstName",
    "lastName",
    "middleName",
    "nickName",
    "gender",
    "birthDate",
    "address",
    "city",
    "country",
    "preferredLanguage",
    "profilePicture",
)
GENDERS = ("MALE", "FEMALE")
PERSON_TYPES = ("CUSTOMER", "LEAD")
MAX_CONTACTS = 100
MAX_CUSTOM_VALUE = 4096
COMPANY_STRING_LIMITS = {
    "name": 255,
    "externalId": 256,
    "notes": 1023,
    "country": 50,
    "region": 255,
    "accountManager": 255,
    "customerStage": 255,
    "industry": 255,
    "segment": 255,
    "vatNumber": 50,
}
COMPANY_SCALARS = tuple(COMPANY_STRING_LIMITS)
COMPANY_SELECTORS = ("id", "externalId", "name", "domain")
CUSTOM_ATTRIBUTE_TYPES = ("STRING", "DECIMAL", "INTEGER", "BOOLEAN", "DATE", "DATE_TIME", "LIST_OF_OBJECTS")
EVENT_FIELD_TYPES = ("String", "Boolean", "DateTime", "Numeric", "Decimal", "List")

# v2 identifier types (PersonUniqueFieldType) that are channel contacts: type -> (contact key, id field)
CHANNELS: dict[str, tuple[str, str]] = {
    "PUSH": ("push", "registrationId"),
    "WEB_PUSH": ("webpush", "registrationId"),
    "FACEBOOK": ("facebook", "userId"),
    "LINE": ("line", "userId"),
    "TELEGRAM": ("telegram", "userId"),
    "LIVE_CHAT": ("liveChat", "userId"),
    "VIBER_BOTS": ("viberBots", "userId"),
    "INSTAGRAM": ("instagram", "userId"),
    "INSTAGRAM_DM": ("instagramDm", "userId"),
    "TWITTER": ("twitter", "userId"),
    "APPLE_BUSINESS_CHAT": ("appleBusinessChat", "userId"),
    "KAKAO_SANGDAM": ("kakaoSangdam", "userId"),
    "OPEN_CHANNEL": ("openChannel", "userId"),
    "ZALO_FOLLOWER": ("zaloFollower", "userId"),
    "TIKTOK_BM": ("tiktokBm", "userId"),
    "WHATSAPP": ("whatsapp", "userId"),
    "KAKAO_TALK": ("kakaoTalk", "userId"),
}
CHANNEL_BY_KEY = {key: (type_, id_field) for type_, (key, id_field) in CHANNELS.items()}
IDENTITY_TYPES = ("ID", "EXTERNAL_ID", "PHONE", "EMAIL", *CHANNELS)
AUTO_CREATE_TYPES = ("PHONE", "EMAIL", "EXTERNAL_ID")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9]{5,49}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_LANGUAGE_RE = re.compile(r"^[a-zA-Z]{2}([-_][a-zA-Z]{2})?$")
_EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_DEFINITION_ID_RE = re.compile(r"^[a-zA-Z0-9]{1,36}$")
_EVENT_FIELD_RE = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")


def now_v2() -> str:
    """Infobip's v2 timestamp: ``yyyy-MM-dd'T'HH:mm:ss`` in UTC, no zone, no fraction."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def now_iso() -> str:
    """Events use ISO-8601 with fraction and ``Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _valid_date(text: str) -> bool:
    if not _DATE_RE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parse_iso(text: str) -> dt.datetime | None:
    if not isinstance(text, str) or not _DATETIME_RE.match(text):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class PersonInput:
    """A person body after validation: only what the body carried (None = absent from the body)."""

    scalars: dict[str, Any] = field(default_factory=dict)  # value None = clear
    type: str | None = None
    tags: list[str] | None = None
    custom: dict[str, Any] | None = None
    phones: list[str] | None = None
    emails: list[str] | None = None
    channels: dict[str, list[dict[str, Any]]] | None = None  # read-only contacts, only via seeding/merge


class _Errors:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.map: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.map.setdefault(self.prefix + name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.map)


def _check_string(errors: _Errors, name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(name, f"must be a string, got {type(value).__name__}")
        return None
    if len(value) > limit:
        errors.add(name, f"size must be between 0 and {limit}")
        return None
    return value
