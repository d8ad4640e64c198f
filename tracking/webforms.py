"""Website form submissions (``POST /v1/forms/<slug>/submissions``, the site's public key): seed 002's Forms rule.

No profile with the submitted email/phone/externalId → a new Lead (origin ``FORMS``) with the mapped fields and
the form's tags; a Lead → that lead, its attributes updated and new contacts added (never its type); a Customer
→ left untouched (a form is an unsigned, public source: people.journey.tracking_attributes), the submission is
kept for staff. With a ``visitorId`` the visitor's events join the lead's timeline, as ``identify`` does (never a
customer's: that needs the site backend's token). Every submission is a ``FormSubmission`` row.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import ErrorCollector, NotFound, ValidationError
from people import journey, validation
from people.models import Origin, Person, PersonType
from people.services import person_create, person_update
from tracking import selectors
from tracking.form_mapping import ATTRIBUTE_TARGETS, CUSTOM_PREFIX
from tracking.models import FORM_FIELDS_MAX, FORM_VALUE_MAX, Form, FormSubmission, Site, SubmissionOutcome
from tracking.services import ID_RE, MSG_BAD_ID, visitor_get_or_create, visitor_link

MSG_UNKNOWN_FORM = "no active form {slug!r} on this site"
MSG_NO_CONTACT = "one of the form's fields {names} (email, phone or externalId) is required"


def _clean_submission(form: Form, payload: Any) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """(the fields as sent, the visitor id, the person's values by target) or a ValidationError."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = ErrorCollector()
    for key in sorted(set(payload) - {"fields", "visitorId"}):
        errors.add(key, "is not a submission field; use fields and visitorId")
    fields = payload.get("fields")
    if not isinstance(fields, dict) or not 0 < len(fields) <= FORM_FIELDS_MAX:
        errors.add("fields", f"must be an object of 1 to {FORM_FIELDS_MAX} form fields")
        fields = {}
    visitor_id = payload.get("visitorId")
    if visitor_id is not None and not (isinstance(visitor_id, str) and ID_RE.match(visitor_id)):
        errors.add("visitorId", MSG_BAD_ID)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            errors.add(f"fields.{name}", "must be a text, a number or a boolean")
        elif isinstance(value, str) and len(value) > FORM_VALUE_MAX:
            errors.add(f"fields.{name}", f"is longer than {FORM_VALUE_MAX:,} characters")
        elif name in form.field_mapping and value not in (None, ""):
            values[form.field_mapping[name]] = value.strip() if isinstance(value, str) else value
    errors.raise_if_any()
    if not any(values.get(t) for t in ("email", "phone", "externalId")):
        names = sorted(f for f, t in form.field_mapping.items() if t in ("email", "phone", "externalId"))
        raise ValidationError.single("fields", MSG_NO_CONTACT.format(names=", ".join(names)))
    return fields, visitor_id, values


def _person_args(realm, form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """The mapped values as people.services arguments, checked (names refuse markup characters and so on)."""
    errors = ErrorCollector()
    emails, phones = [], []
    if values.get("email"):
        try:
            emails.append(validation.normalize_email(values["email"]))
        except ValidationError as exc:
            errors.add(_form_field(form, "email"), "; ".join(r for rs in exc.fields.values() for r in rs))
    if values.get("phone"):
        try:
            phones.append(validation.normalize_phone(str(values["phone"]), realm.default_country))
        except ValidationError as exc:
            errors.add(_form_field(form, "phone"), "; ".join(r for rs in exc.fields.values() for r in rs))
    attributes = {ATTRIBUTE_TARGETS[t]: v for t, v in values.items() if t in ATTRIBUTE_TARGETS}
    clean = validation.clean_person_attributes(attributes, _Renamed(errors, form))
    external_id = values.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        external_id = str(external_id)
    custom = {t[len(CUSTOM_PREFIX) :]: v for t, v in values.items() if t.startswith(CUSTOM_PREFIX)}
    errors.raise_if_any()
    return {"attributes": clean, "external_id": external_id, "emails": emails, "phones": phones, "custom": custom}


def _form_field(form: Form, target: str) -> str:
    return "fields." + next((f for f, t in form.field_mapping.items() if t == target), target)


class _Renamed:
    """An ErrorCollector view naming the form's field (``fields.ime``) instead of the person's (``firstName``)."""

    def __init__(self, errors: ErrorCollector, form: Form):
        self.errors, self.form = errors, form
        self.by_model = {ATTRIBUTE_TARGETS[t]: f for f, t in form.field_mapping.items() if t in ATTRIBUTE_TARGETS}
        self.by_api = {t: f for f, t in form.field_mapping.items()}

    def add(self, field: str, reason: str) -> None:
        name = self.by_api.get(field) or self.by_model.get(field) or field
        self.errors.add(f"fields.{name}", reason)

    def __getattr__(self, name):
        return getattr(self.errors, name)


def form_find(*, site: Site, slug: str) -> Form:
    form = Form.objects.filter(site=site, slug=slug, active=True).first()
    if form is None:
        raise NotFound(MSG_UNKNOWN_FORM.format(slug=slug[:60]), code="unknown_form")
    return form


def form_submit(*, form: Form, payload: Any) -> tuple[FormSubmission, str]:
    """Store a submission and apply it to the person it names (see the module's rules). Returns (the submission,
    its outcome: "created" | "lead" | "customer")."""
    site = form.site
    realm = site.realm
    fields, visitor_id, values = _clean_submission(form, payload)
    args = _person_args(realm, form, values)
    now = timezone.now()
    with transaction.atomic():
        found = selectors.persons_matching_locked(realm, args["external_id"], args["emails"], args["phones"])
        customer = next((p for p in found if p.type == journey.CUSTOMER), None)
        person: Person
        if customer is not None:
            person, outcome = customer, SubmissionOutcome.CUSTOMER
        elif found:
            person, outcome = found[0], SubmissionOutcome.LEAD
            held = selectors.persons_matching_locked(realm, None, args["emails"], args["phones"])
            free = not [p for p in held if p.pk != person.pk]  # contacts another lead holds stay there
            allowed = journey.tracking_attributes(person, args["attributes"])
            if not person.external_id and args["external_id"]:
                allowed["external_id"] = args["external_id"]
            person = person_update(
                person=person,
                attributes=allowed,
                emails=args["emails"] if free else (),
                phones=args["phones"] if free else (),
                custom_attributes=args["custom"] or None,
                tags=form.tags or None,
                modified_from=Origin.FORMS,
            )
        else:
            person = person_create(
                realm=realm,
                attributes={**args["attributes"], "type": PersonType.LEAD, "external_id": args["external_id"]},
                emails=args["emails"],
                phones=args["phones"],
                custom_attributes=args["custom"] or None,
                tags=form.tags,
                origin=Origin.FORMS,
            )
            outcome = SubmissionOutcome.CREATED
        visitor = visitor_get_or_create(site, visitor_id, now) if visitor_id else None
        if visitor is not None and outcome != SubmissionOutcome.CUSTOMER:
            visitor_link(visitor=visitor, person=person, now=now)
        submission = FormSubmission.objects.create(
            form=form, person=person, visitor=visitor, data=fields, outcome=outcome, created=now
        )
    return submission, outcome
