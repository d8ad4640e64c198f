"""Infobip's Mobile SDK scenarios over REST: an app installation's push registration and the person holding it.

The push registration is the person's ``ChannelProfile`` of channel ``push`` (application id + registration id,
unique per realm), so it is always held by exactly one person:

- **install** (``installation_register``): an empty Lead holds the new registration (a known one answers its
  holder: installing twice creates nothing);
- **login** with a confirmed identity (``installation_login``; the app's backend calls with its API key, which
  is the confirmation): no profile with those contacts → the installation's lead becomes a Customer with them;
  leads with the same email/phone/externalId → merged away into it (``people.merging.persons_merge``: their
  events and contacts follow), and it becomes a Customer with everything provided; an existing Customer → the
  registration moves to it and the installation's lead is merged away into it;
- **logout** (``installation_logout``): the registration detaches from its person and a new empty Lead takes it.

Every step is one transaction with the registration row locked, so two calls of one installation never race;
the merges and conversions reach Infobip through the outbox like any other change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.errors import Conflict, ErrorCollector, NotFound, ValidationError
from people import journey, validation
from people.merging import persons_merge
from people.models import Channel, ChannelProfile, Origin, Person
from people.services import person_create, person_update
from tracking import selectors

MSG_UNKNOWN_REGISTRATION = "no installation with this applicationId and pushRegistrationId; register it first"
MSG_NO_IDENTITY = "give at least one of externalId, email or phone"
MSG_TWO_CUSTOMERS = "these contacts belong to different customers ({ids}); merge them first"
REGISTRATION_MAX = 255


def _clean_registration(application_id: Any, registration_id: Any) -> tuple[str, str]:
    errors = ErrorCollector()
    for field, value in (("applicationId", application_id), ("pushRegistrationId", registration_id)):
        if not isinstance(value, str) or not value.strip() or len(value) > REGISTRATION_MAX:
            errors.add(field, f"must be a text of 1 to {REGISTRATION_MAX} characters")
        elif any(ord(c) < 32 or c == "\x7f" for c in value):
            errors.add(field, "must not contain control characters")
    errors.raise_if_any()
    return application_id.strip(), registration_id.strip()


def _push_profile(application_id: str, registration_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {Channel.PUSH: [{**(data or {}), "applicationId": application_id, "registrationId": registration_id}]}


def _registration_locked(realm, application_id: str, registration_id: str) -> ChannelProfile | None:
    return (
        ChannelProfile.objects.select_for_update()
        .select_related("person")
        .filter(realm=realm, channel=Channel.PUSH, application_id=application_id, identifier=registration_id)
        .first()
    )


def is_empty_lead(person: Person) -> bool:
    """A lead nobody has identified: no externalId, phone or email."""
    return (
        person.type == journey.LEAD
        and not person.external_id
        and not person.phones.exists()
        and not person.emails.exists()
    )


def _empty_lead(realm, application_id: str, registration_id: str, data: dict[str, Any] | None = None) -> Person:
    """A new empty Lead taking the registration (update_or_create of the channel profile moves it)."""
    return person_create(
        realm=realm,
        attributes={"type": journey.LEAD},
        channel_profiles=_push_profile(application_id, registration_id, data),
        origin=Origin.PUSH,
    )


def installation_register(
    *, realm, application_id: Any, registration_id: Any, data: dict[str, Any] | None = None
) -> tuple[Person, bool]:
    """Install: an empty Lead holding the push registration. Returns (holder, created); a registration already
    known answers its holder and changes nothing."""
    application_id, registration_id = _clean_registration(application_id, registration_id)
    with transaction.atomic():
        registration = _registration_locked(realm, application_id, registration_id)
        if registration is not None:
            return registration.person, False
        return _empty_lead(realm, application_id, registration_id, data), True


def _clean_login(realm, external_id: Any, emails: Any, phones: Any) -> tuple[str | None, list[str], list[str]]:
    errors = ErrorCollector()
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        errors.add("externalId", "must be a non-empty text")
        external_id = None
    clean_emails, clean_phones = [], []
    emails = [] if emails is None else list(emails) if isinstance(emails, tuple) else emails
    phones = [] if phones is None else list(phones) if isinstance(phones, tuple) else phones
    for field, values, normalize in (("email", emails, validation.normalize_email), ("phone", phones, None)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.add(field, "must be a list of texts")
            continue
        for index, value in enumerate(values):
            try:
                if normalize is not None:
                    clean_emails.append(normalize(value))
                else:
                    clean_phones.append(validation.normalize_phone(value, realm.default_country))
            except ValidationError as exc:
                for reasons in exc.fields.values():
                    for reason in reasons:
                        errors.add(f"{field}[{index}]", reason)
    errors.raise_if_any()
    if not (external_id or clean_emails or clean_phones):
        raise ValidationError.single("identity", MSG_NO_IDENTITY)
    return external_id, clean_emails, clean_phones


def installation_login(
    *,
    realm,
    application_id: Any,
    registration_id: Any,
    external_id: Any = None,
    emails: Any = None,
    phones: Any = None,
    attributes: dict[str, Any] | None = None,
) -> tuple[Person, str]:
    """Login with a confirmed identity. Returns (the customer now holding the registration, outcome): "created"
    (no profile had those contacts: the installation's lead became the customer), "lead_merged" (leads with
    them were merged away into it), "customer" (an existing customer took the registration; the lead was
    merged away)."""
    application_id, registration_id = _clean_registration(application_id, registration_id)
    external_id, emails, phones = _clean_login(realm, external_id, emails, phones)
    given = {k: v for k, v in (attributes or {}).items() if k not in ("type", "external_id")}
    with transaction.atomic():
        registration = _registration_locked(realm, application_id, registration_id)
        if registration is None:
            raise NotFound(MSG_UNKNOWN_REGISTRATION, code="unknown_installation")
        holder = registration.person
        found = selectors.persons_matching_locked(realm, external_id, emails, phones)
        if holder.type == journey.CUSTOMER and holder in found:
            found.remove(holder)
            found.insert(0, holder)  # the same customer logging in again: it stays the one
        matches = [p for p in found if p.pk != holder.pk or p.type == journey.CUSTOMER]
        customers = [p for p in matches if p.type == journey.CUSTOMER]
        if len(customers) > 1:
            raise Conflict(MSG_TWO_CUSTOMERS.format(ids=", ".join(str(p.pk) for p in customers)), code="ambiguous")
        leads = [p for p in matches if p.type == journey.LEAD]
        if customers and customers[0].pk == holder.pk:
            target, absorbed, outcome = holder, leads, "customer"
        elif customers:
            target, outcome = customers[0], "customer"
            absorbed = leads + ([holder] if holder.type == journey.LEAD else [])
            if holder.type == journey.CUSTOMER:  # another customer's app session: it keeps its profile
                registration.person = target
                registration.save(update_fields=["person", "modified"])
        else:
            if holder.type == journey.CUSTOMER:  # logged in as someone else before: that customer keeps its profile
                holder = _empty_lead(realm, application_id, registration_id, registration.data)
            target, absorbed = holder, leads
            outcome = "lead_merged" if leads else "created"
        if absorbed:
            # The survivor's contacts, events and channel profiles (this registration too) are kept.
            persons_merge(survivor=target, others=absorbed, actor="mobile login", source="api")
            target = Person.objects.get(pk=target.pk)
        wanted = {**given, "type": journey.CUSTOMER}
        if external_id and target.external_id != external_id:
            wanted["external_id"] = external_id
        target = person_update(
            person=target, attributes=wanted, emails=emails, phones=phones, modified_from=Origin.PUSH
        )
    return target, outcome


def installation_logout(*, realm, application_id: Any, registration_id: Any) -> tuple[Person, Person]:
    """Logout: the registration detaches from its person and a new empty Lead takes it. Returns (the person it
    left, the lead now holding it); an installation whose holder is already an empty lead keeps it."""
    application_id, registration_id = _clean_registration(application_id, registration_id)
    with transaction.atomic():
        registration = _registration_locked(realm, application_id, registration_id)
        if registration is None:
            raise NotFound(MSG_UNKNOWN_REGISTRATION, code="unknown_installation")
        previous = registration.person
        if is_empty_lead(previous):
            return previous, previous
        return previous, _empty_lead(realm, application_id, registration_id, registration.data)
