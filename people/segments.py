"""Saved segments: a named persons filter (Infobip's filter language) whose members are read live.

Writes are one transaction each; a segment's filter is checked when it is saved (it must parse and name only
known tags' and custom attributes' shapes), and is applied again on every read, so the count is always now's."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from core.errors import ErrorCollector, NotFound, ValidationError
from people.filtering import person_filter_q
from people.models import NAME_MAX, Segment
from people.selectors import person_list

MSG_SEGMENT_NAME_TAKEN = "a segment named {name!r} already exists"


def _clean(realm, name, filter_raw, errors: ErrorCollector) -> tuple[str, str]:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors.add("name", "is required")
    elif len(name) > NAME_MAX:
        errors.add("name", f"is longer than {NAME_MAX} characters")
    if not isinstance(filter_raw, str) or not filter_raw.strip():
        errors.add("filter", "is required: a persons filter in Infobip's filter language")
        filter_raw = ""
    else:
        try:
            person_filter_q(realm, filter_raw)
        except ValidationError as exc:
            errors.merge(exc)
    return name, filter_raw


def segment_create(*, realm, name: str, filter_raw: str) -> Segment:
    errors = ErrorCollector()
    name, filter_raw = _clean(realm, name, filter_raw, errors)
    errors.raise_if_any()
    if Segment.objects.filter(realm=realm, name__iexact=name).exists():
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=name), code="conflict")
    try:
        with transaction.atomic():
            return Segment.objects.create(realm=realm, name=name, filter=filter_raw)
    except IntegrityError:  # created concurrently under the same name
        raise ValidationError.single("name", MSG_SEGMENT_NAME_TAKEN.format(name=name), code="conflict") from None


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    Segment.objects.filter(pk=segment.pk).delete()


def segment_get(realm, segment_id: int) -> Segment:
    segment = Segment.objects.filter(realm=realm, pk=segment_id).first()
    if segment is None:
        raise NotFound(f"segment {segment_id} does not exist")
    return segment


def segment_persons(segment: Segment) -> QuerySet:
    """The segment's members now (active persons of its realm matching its filter)."""
    return person_list(segment.realm, segment.filter)


def segment_count(segment: Segment) -> int:
    return segment_persons(segment).order_by().count()
