"""Every write to identities, realms and API keys."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from core import iso
from core.errors import Conflict, ErrorCollector, ValidationError
from identities import keycache
from identities.ids import is_hex24, new_object_id
from identities.models import ApiKey, Identity, IdentityType, Realm, hash_api_key
from people import journey, validation
from people.services import person_create, person_update

IDENTITY_FIELDS = ("type", "country", "currency", "alias", "data", "owner")
MSG_UNKNOWN_COUNTRY = "{value!r} is not an ISO 3166-1 alpha-2 country code"
MSG_UNKNOWN_CURRENCY = "{value!r} is not an ISO 4217 currency code"


# ------------------------------------------------------------------------------------------------- realms


@transaction.atomic
def realm_create(
    *,
    name: str,
    default_country: str = "US",
    default_currency: str = "USD",
    cdp_enabled: bool = False,
    infobip_base_url: str = "",
    infobip_api_key: str = "",
) -> Realm:
    errors = ErrorCollector()
    name = (name or "").strip()
    if not name:
        errors.add("name", "is required")
    if not iso.is_country(default_country):
        errors.add("country", MSG_UNKNOWN_COUNTRY.format(value=default_country))
    if not iso.is_currency(default_currency):
        errors.add("currency", MSG_UNKNOWN_CURRENCY.format(value=default_currency))
    if infobip_base_url:
        from infobip.hosts import HostNotAllowed, check_base_url

        try:
            check_base_url(infobip_base_url)
        except HostNotAllowed as exc:
            errors.add("infobip_url", str(exc))
    errors.raise_if_any()
    if Realm.objects.filter(name=name).exists():
        raise ValidationError.single("name", f"a realm named {name!r} already exists", code="conflict")
    slug = slugify(name) or new_object_id()
    if Realm.objects.filter(slug=slug).exists():
        slug = f"{slug}-{secrets.token_hex(3)}"
    return Realm.objects.create(
        name=name,
        slug=slug,
        default_country=default_country,
        default_currency=default_currency,
        cdp_enabled=cdp_enabled,
        infobip_base_url=infobip_base_url,
        infobip_api_key=infobip_api_key,
    )


@transaction.atomic
def api_key_create(*, realm: Realm, owner: str | None = None, name: str = "") -> tuple[ApiKey, str]:
    """Returns (key, plain). The plain key exists only in this return value: only its hash is stored."""
    owner = owner or new_object_id()
    if not is_hex24(owner):
        raise ValidationError.single("owner", "must be a 24-character lowercase hexadecimal id")
    prefix = secrets.token_hex(6)
    plain = f"cdp_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(realm=realm, owner=owner, name=name, prefix=prefix, key_hash=hash_api_key(plain))
    return key, plain


def api_key_prefix(plain: str) -> str | None:
    parts = plain.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] == "cdp" else None


def api_key_authenticate(plain: str) -> ApiKey | None:
    """The active key for `plain`, compared by hash in constant time, or None.

    Served from identities.keycache for a few seconds after the first success (see its staleness bound).
    """
    prefix = api_key_prefix(plain or "")
    if not prefix:
        return None
    key = keycache.cached_key(prefix, plain, hash_api_key)
    if key is not None:
        return key
    key = ApiKey.objects.select_related("realm").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not key.matches(plain):
        return None
    keycache.remember(key)
    return key


def api_key_revoke(*, key: ApiKey) -> None:
    api_keys_revoke(keys=ApiKey.objects.filter(pk=key.pk))


def api_keys_revoke(*, keys) -> int:
    """Revoke the active keys of a queryset; every process stops accepting them (keycache bound). Returns how
    many were active."""
    count = keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    transaction.on_commit(keycache.api_keys_changed)
    keycache.api_keys_changed()
    return count


# --------------------------------------------------------------------------------------------- identities


def _clean_identity_fields(realm: Realm, fields: dict[str, Any], errors: ErrorCollector) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "type":
            if value not in IdentityType.values:
                errors.add("type", f"{value!r} is not one of {', '.join(IdentityType.values)}")
                continue
        elif name == "country":
            value = value.upper() if isinstance(value, str) else value
            if value is None:
                value = realm.default_country
            elif not iso.is_country(value):
                errors.add("country", MSG_UNKNOWN_COUNTRY.format(value=value))
                continue
        elif name == "currency":
            value = value.upper() if isinstance(value, str) else value
            if value is None:
                value = realm.default_currency
            elif not iso.is_currency(value):
                errors.add("currency", MSG_UNKNOWN_CURRENCY.format(value=value))
                continue
        elif name == "alias":
            if value is None:
                value = ""
            if not isinstance(value, str) or len(value) > 255:
                errors.add("alias", "must be a string of at most 255 characters")
                continue
        elif name == "data":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                errors.add("data", "must be a JSON object")
                continue
            validation.check_json_size(value, "data", validation.IDENTITY_DATA_MAX_BYTES, errors)
            if "data" in errors.fields:
                continue
        elif name == "owner":
            if not is_hex24(value):
                errors.add("owner", "must be a 24-character lowercase hexadecimal id")
                continue
        else:
            errors.add(name, "is not an identity field")
            continue
        cleaned[name] = value
    return cleaned


def _check_links(realm: Realm, person, company, errors: ErrorCollector) -> None:
    if person is not None and person.realm_id != realm.pk:
        errors.add("person", "person does not exist")
    if person is not None and person.merged_into_id:
        errors.add("person", f"person {person.pk} was merged into person {person.merged_into_id}")
    if company is not None and company.realm_id != realm.pk:
        errors.add("company", "company does not exist")


@transaction.atomic
def identity_create(*, realm: Realm, owner: str, person=None, company=None, **fields: Any) -> Identity:
    """Create an identity; country and currency default to the realm's."""
    errors = ErrorCollector()
    fields.setdefault("country", None)
    fields.setdefault("currency", None)
    clean = _clean_identity_fields(realm, {**fields, "owner": owner}, errors)
    _check_links(realm, person, company, errors)
    errors.raise_if_any()
    if person is not None:
        journey.person_convert_to_customer(person=person)  # an identity makes a Lead a Customer
    return Identity.objects.create(realm=realm, person=person, company=company, **clean)


_UNSET: Any = object()


@transaction.atomic
def identity_update(*, identity: Identity, person: Any = _UNSET, company: Any = _UNSET, **fields: Any) -> Identity:
    """Change any identity field; `person=None`/`company=None` unlink, a model instance links."""
    realm = identity.realm
    errors = ErrorCollector()
    clean = _clean_identity_fields(realm, fields, errors)
    _check_links(realm, None if person is _UNSET else person, None if company is _UNSET else company, errors)
    errors.raise_if_any()
    locked = Identity.objects.select_for_update().get(pk=identity.pk)
    for name, value in clean.items():
        setattr(locked, name, value)
    if person is not _UNSET:
        locked.person = person
    if company is not _UNSET:
        locked.company = company
    locked.save()
    if company is not _UNSET and locked.person_id and locked.person.company_id != (company.pk if company else None):
        person_update(person=locked.person, company=company)  # one fact: the person (and its identities) follow
    if person is not _UNSET and person is not None:
        journey.person_convert_to_customer(person=person)  # an identity makes a Lead a Customer
    return locked


def identity_assign_person(*, identity: Identity, person) -> Identity:
    return identity_update(identity=identity, person=person)


def identity_unassign_person(*, identity: Identity) -> Identity:
    return identity_update(identity=identity, person=None)


@transaction.atomic
def identity_delete(*, identity: Identity) -> None:
    """Delete the identity only; its person and company stay in the CDP."""
    Identity.objects.filter(pk=identity.pk).delete()


@transaction.atomic
def identity_create_with_person(
    *, realm: Realm, owner: str, person_args: dict[str, Any], company=None, **fields: Any
) -> Identity:
    """Create a person and an identity linked to it, all or nothing (POST /v1/identities/person).

    Every problem is reported at once: identity fields under their names, the person's under `person.`.
    """
    errors = ErrorCollector()
    fields.setdefault("country", None)
    fields.setdefault("currency", None)
    clean = _clean_identity_fields(realm, {**fields, "owner": owner}, errors)
    _check_links(realm, None, company, errors)
    person = None
    if company is not None:
        person_args = {"company": company, **person_args}  # the identity's company is its person's
    try:
        person = person_create(realm=realm, default_country=clean.get("country"), **person_args)
    except ValidationError as exc:
        errors.merge(exc, prefix="person.")
    errors.raise_if_any()
    # The fields are checked above: inserting here spares identity_create's savepoint.
    return Identity.objects.create(realm=realm, person=person, company=company, **clean)


@transaction.atomic
def identity_person_create(*, identity: Identity, person_args: dict[str, Any]) -> Identity:
    """Create a person for an identity that has none (POST /v1/identities/:id/person)."""
    locked = Identity.objects.select_for_update().select_related("realm").get(pk=identity.pk)
    if locked.person_id:
        raise Conflict(
            f"identity {locked.pk} already has person {locked.person_id}; unassign it first",
            code="person_already_assigned",
        )
    person = person_create(realm=locked.realm, default_country=locked.country, **person_args)
    locked.person = person
    locked.save(update_fields=["person", "modified"])
    return locked
