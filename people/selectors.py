"""Reads of persons that are more than one filter: search, the changelist page, timelines, lookups."""

from __future__ import annotations

import contextlib
import re

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Lower

from core.api.listing import ListParams
from core.errors import ErrorCollector, NotFound, ValidationError
from core.models import Folded
from people.filtering import person_filter_q
from people.models import Person, PersonEmail, PersonEvent, PersonPhone, Tag
from people.representation import person_aggregates, persons_json_of_query
from people.validation import normalize_phone

PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]{5,}$")


def person_search(queryset: QuerySet, term: str, *, default_country: str | None = None) -> QuerySet:
    """Search the way staff type: an email (or its start), a phone in any common form, an externalId,
    a name prefix ("Smi", "Jane Smi"). Every branch is served by an index (see Person/PersonEmail/PersonPhone
    Meta.indexes); there is no `%term%` scan.
    """
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        matches = PersonEmail.objects.annotate(laddress=Lower("address")).filter(laddress__startswith=term.lower())
        return queryset.filter(pk__in=matches.values("person_id"))
    if PHONE_LIKE.match(term):
        digits = re.sub(r"\D", "", term)
        numbers = {digits}
        with contextlib.suppress(ValidationError):
            numbers.add(normalize_phone(term, default_country))
        condition = Q()
        for number in numbers:
            condition |= Q(number__startswith=number)
        phone_matches = PersonPhone.objects.filter(condition).values("person_id")
        return queryset.filter(Q(pk__in=phone_matches) | Q(external_id=term))
    words = term.split()
    condition = Q(external_id=term)
    # Names compare folded on both sides (core.models.Folded: no case, no accents), so `juric` finds Jurić and
    # `jurić` finds Juric; the term is folded by the same SQL function, constant-folded at planning time.
    if len(words) == 1:
        prefix = Folded(Value(words[0]))
        condition |= Q(flast__startswith=prefix) | Q(ffirst__startswith=prefix)
    else:
        first, last = Folded(Value(words[0])), Folded(Value(" ".join(words[1:])))
        condition |= Q(ffirst__startswith=first, flast__startswith=last)
        condition |= Q(flast__startswith=Folded(Value(term)))
    return queryset.annotate(ffirst=Folded("first_name"), flast=Folded("last_name")).filter(condition)


def with_list_columns(queryset: QuerySet) -> QuerySet:
    """First phone, first email and tag names as columns of the page query itself: one query per page."""
    first_phone = PersonPhone.objects.filter(person=OuterRef("pk")).order_by("id").values("number")[:1]
    first_email = PersonEmail.objects.filter(person=OuterRef("pk")).order_by("id").values("address")[:1]
    tag_names = (
        Tag.persons.through.objects.filter(person_id=OuterRef("pk"))
        .values("person_id")
        .annotate(names=ArrayAgg("tag__name", order_by="tag__name"))
        .values("names")
    )
    return queryset.annotate(
        first_phone=Subquery(first_phone), first_email=Subquery(first_email), tag_names=Subquery(tag_names)
    )


def person_timeline(person: Person, limit: int = 50) -> list[PersonEvent]:
    return list(
        PersonEvent.objects.filter(person=person).select_related("definition").order_by("-occurred_time")[:limit]
    )


def person_resolve(realm, person_id) -> Person | None:
    """A person of `realm` by our id; an absorbed (merged) person resolves to its survivor."""
    person = Person.objects.filter(realm=realm, pk=person_id).first()
    seen = set()
    while person is not None and person.merged_into_id and person.pk not in seen:
        seen.add(person.pk)
        person = Person.objects.filter(pk=person.merged_into_id).first()
    return person


def persons_for_rendering(ids) -> dict[int, Person]:
    """Persons by id with their tags and contacts as columns (people.representation's aggregates): one query."""
    return {p.pk: p for p in Person.objects.filter(pk__in=list(ids)).annotate(**person_aggregates())}


def person_lookup(realm, person_id) -> tuple[Person, int | None]:
    """A person of `realm` ready for rendering, and — when `person_id` was merged into another person — the id
    asked for: the answer is then the survivor. NotFound for unknown ids and other realms' persons."""
    person = person_resolve(realm, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return persons_for_rendering([person.pk])[person.pk], (person_id if person.pk != person_id else None)


def persons_of_realm(realm, ids: dict[str, int]) -> dict[str, Person]:
    """`ids` (field name → person id, as named in a request body) → the realm's active-or-absorbed persons;
    ids of other realms or unknown ones are a 400 on their field, like any other id in a body."""
    found = Person.objects.filter(realm=realm, pk__in=set(ids.values())).in_bulk()
    errors = ErrorCollector()
    for name, pid in ids.items():
        if pid not in found:
            errors.add(name, f"person {pid} does not exist")
    errors.raise_if_any()
    return {name: found[pid] for name, pid in ids.items()}


def persons_by_contacts(realm, phones: list[str], emails: list[str]) -> dict[int, set[str]]:
    """Person ids holding any of the phones or emails, with what matched."""
    found: dict[int, set[str]] = {}
    if phones:
        for pid, number in PersonPhone.objects.filter(realm=realm, number__in=phones).values_list(
            "person_id", "number"
        ):
            found.setdefault(pid, set()).add(number)
    if emails:
        lowered = [e.lower() for e in emails]
        rows = (
            PersonEmail.objects.annotate(laddress=Lower("address"))
            .filter(realm=realm, laddress__in=lowered)
            .values_list("person_id", "address")
        )
        for pid, address in rows:
            found.setdefault(pid, set()).add(address.lower())
    return found


def person_list(realm, filter_raw: str | None) -> QuerySet:
    """The realm's persons (merged ones excluded) matching an Infobip `filter`. A page of it is rendered by
    `person_page_json` (tags and contacts in the page's own query)."""
    queryset = Person.objects.filter(realm=realm).active()
    if filter_raw:
        queryset = queryset.filter(person_filter_q(realm, filter_raw))
    return queryset


def person_page_json(realm, filter_raw: str | None, params: ListParams) -> tuple[str, int | None]:
    """One page of `person_list` as the JSON text of its persons (people.representation), in one query
    whatever the page size: the filter, the ordering and the page's persons' JSON (plus the total when asked
    for, and one to resolve the filter's tag names or custom attributes when it has any)."""
    queryset = person_list(realm, filter_raw)
    page = queryset.order_by(*params.ordering).values_list("pk", flat=True)
    rows = persons_json_of_query(page[params.offset : params.offset + params.limit])
    total = queryset.order_by().count() if params.include_total else None
    return rows, total
