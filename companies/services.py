"""Every write to companies. One transaction each, outbox row in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from companies.models import COMPANY_NAME_MAX, COMPANY_NOTES_MAX, COMPANY_TEXT_MAX, Company
from core.errors import ErrorCollector, NotFound
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record
from infobip.outbox.payloads import CompanyChange, CompanyGone
from people import validation
from people.fields import COMPANY_API_NAME
from people.models import SyncStatus
from people.services import (
    custom_attribute_definitions,
    integrity_error_as_validation,
    person_update,
    tags_get_or_create,
)

_LIMITS = {
    "name": COMPANY_NAME_MAX,
    "external_id": 256,
    "notes": COMPANY_NOTES_MAX,
    "country": 50,
    "vat_number": 50,
    "region": COMPANY_TEXT_MAX,
    "account_manager": COMPANY_TEXT_MAX,
    "customer_stage": COMPANY_TEXT_MAX,
    "industry": COMPANY_TEXT_MAX,
    "segment": COMPANY_TEXT_MAX,
}
MSG_NAME_TAKEN = "a company named {name!r} already exists (id {company_id})"
MSG_GONE = "the company does not exist (any more)"


def _clean_company_attributes(attributes: dict[str, Any], errors: ErrorCollector) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for field, value in attributes.items():
        name = COMPANY_API_NAME.get(field, field)
        if field == "domains":
            if value is None:
                cleaned[field] = []
            elif not isinstance(value, list) or not all(isinstance(d, str) and d.strip() for d in value):
                errors.add(name, "must be a list of domain names")
            elif len({d.strip().lower() for d in value}) > validation.MAX_DOMAINS:
                count = len({d.strip().lower() for d in value})
                errors.add(name, validation.MSG_TOO_MANY_DOMAINS.format(count=count, limit=validation.MAX_DOMAINS))
            else:
                cleaned[field] = sorted({d.strip().lower() for d in value})
            continue
        if field not in _LIMITS:
            errors.add(name, "is not a company attribute")
            continue
        if value is None:
            cleaned[field] = None if field == "external_id" else ""
            continue
        if not isinstance(value, str):
            errors.add(name, validation.MSG_NOT_A_STRING)
            continue
        value = value.strip()
        if len(value) > _LIMITS[field]:
            errors.add(name, validation.MSG_TOO_LONG.format(limit=_LIMITS[field]))
            continue
        if field == "external_id" and not value:
            value = None
        cleaned[field] = value
    return cleaned


def _check_name_free(realm, company_id: int | None, name: str | None, errors: ErrorCollector) -> None:
    if not name:
        return
    taken = Company.objects.filter(realm=realm, name__iexact=name)
    if company_id:
        taken = taken.exclude(pk=company_id)
    other = taken.values_list("id", flat=True).first()
    if other:
        errors.add("name", MSG_NAME_TAKEN.format(name=name, company_id=other))


def company_create(
    *, realm, attributes: dict[str, Any], tags=(), custom_attributes: dict[str, Any] | None = None
) -> Company:
    errors = ErrorCollector()
    clean = _clean_company_attributes(attributes, errors)
    if not clean.get("name"):
        errors.add("name", "is required")
    definitions = custom_attribute_definitions(realm) if custom_attributes else {}
    clean_custom = validation.clean_custom_attributes(custom_attributes or {}, definitions, errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            _check_name_free(realm, None, clean.get("name"), errors)
            errors.raise_if_any()
            company = Company.objects.create(
                realm=realm,
                custom_attributes={k: v for k, v in clean_custom.items() if v is not None},
                sync_status=SyncStatus.PENDING if realm.cdp_enabled else SyncStatus.LOCAL,
                **clean,
            )
            if tags:
                company.tags.add(*tags_get_or_create(realm=realm, names=tags))
            outbox_record(realm=realm, entity=OutboxEntity.COMPANY, entity_id=company.pk, op=OutboxOp.CREATE)
    except IntegrityError as exc:
        raise integrity_error_as_validation(exc) from exc
    return company


def company_update(
    *,
    company: Company,
    attributes: dict[str, Any] | None = None,
    tags=None,
    custom_attributes: dict[str, Any] | None = None,
    replace_tags: bool = False,
) -> Company:
    """PATCH meaning: attributes not given keep their value; tags given are added (or replace with replace_tags)."""
    realm = company.realm
    errors = ErrorCollector()
    clean = _clean_company_attributes(attributes or {}, errors)
    if "name" in clean and not clean["name"]:
        errors.add("name", "is required")
    definitions = custom_attribute_definitions(realm) if custom_attributes else {}
    clean_custom = validation.clean_custom_attributes(custom_attributes or {}, definitions, errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            locked = Company.objects.select_for_update().get(pk=company.pk)
            _check_name_free(realm, locked.pk, clean.get("name"), errors)
            errors.raise_if_any()
            changed = [f for f, v in clean.items() if getattr(locked, f) != v]
            for field, value in clean.items():
                setattr(locked, field, value)
            custom = dict(locked.custom_attributes)
            for name, value in clean_custom.items():
                if value is None:
                    custom.pop(name, None)
                else:
                    custom[name] = value
            if custom != locked.custom_attributes:
                locked.custom_attributes = custom
                changed.append("custom_attributes")
            if tags is not None:
                wanted = tags_get_or_create(realm=realm, names=tags)
                current = set(locked.tags.all())
                if replace_tags and current - set(wanted):
                    locked.tags.remove(*(current - set(wanted)))
                    changed.append("tags")
                if set(wanted) - current:
                    locked.tags.add(*(set(wanted) - current))
                    changed.append("tags")
            if changed:
                if realm.cdp_enabled:
                    locked.sync_status = SyncStatus.PENDING
                locked.save()
                outbox_record(
                    realm=realm,
                    entity=OutboxEntity.COMPANY,
                    entity_id=locked.pk,
                    op=OutboxOp.UPDATE,
                    payload=CompanyChange(tuple(changed), replace_tags).to_json(),
                )
    except IntegrityError as exc:
        raise integrity_error_as_validation(exc) from exc
    return locked


@transaction.atomic
def company_delete(*, company: Company) -> None:
    """Delete the company; persons and identities linked to it stay, unlinked. Of concurrent deletes one wins
    (one outbox row); the others are a NotFound."""
    company = Company.objects.select_for_update().filter(pk=company.pk).first()
    if company is None:
        raise NotFound(MSG_GONE)
    outbox_record(
        realm=company.realm,
        entity=OutboxEntity.COMPANY,
        entity_id=company.pk,
        op=OutboxOp.DELETE,
        payload=CompanyGone(company.infobip_id, company.name, company.external_id).to_json(),
    )
    company.delete()


# --------------------------------------------------------------------------------------------- membership


@transaction.atomic
def company_persons_add(*, company: Company, persons) -> None:
    """Make `persons` members of `company` (each leaves its former one); their identities follow and each move
    reaches Infobip through the person's outbox row (people.services.person_update)."""
    for person in persons:
        person_update(person=person, company=company)


@transaction.atomic
def company_persons_remove(*, company: Company, persons) -> None:
    """`persons` leave `company`; persons of another company (or none) stay where they are."""
    for person in persons:
        if person.company_id == company.pk:
            person_update(person=person, company=None)
