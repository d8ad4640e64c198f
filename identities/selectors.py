from __future__ import annotations

from django.db.models.functions import Lower

from core.errors import ErrorCollector, NotFound
from core.prepared import PreparedQuery
from identities.ids import parse_object_id
from identities.models import Identity, IdentityType
from identities.representation import PERSON_PREFIX, with_populated
from people.models import Person
from people.representation import AGGREGATES, PERSON_ATTNAMES, person_aggregates

IDENTITY_ATTNAMES = [field.attname for field in Identity._meta.concrete_fields]
PERSON_COLUMNS = [f"person__{name}" for name in PERSON_ATTNAMES]


def _identity_values(realm_id, identity_id, *, with_person: bool):
    queryset = Identity.objects.filter(realm_id=realm_id, pk=identity_id).order_by()
    if not with_person:
        return queryset.values(*IDENTITY_ATTNAMES)
    queryset = queryset.annotate(**person_aggregates("person_id", prefix=PERSON_PREFIX))
    return queryset.values(*IDENTITY_ATTNAMES, *PERSON_COLUMNS, *(PERSON_PREFIX + name for name in AGGREGATES))


_IDENTITY = PreparedQuery(lambda realm_id, identity_id: _identity_values(realm_id, identity_id, with_person=False))
_IDENTITY_WITH_PERSON = PreparedQuery(
    lambda realm_id, identity_id: _identity_values(realm_id, identity_id, with_person=True)
)


def identity_get(realm, identity_id: str, populate=()) -> Identity:
    """An identity of `realm` with what `populate` needs joined; another realm's id is simply not found.

    Without populate or with populate=person (the hot paths) it is one query whose SQL is compiled once per
    process (core.prepared): the identity, its person and the person's tags and contacts.
    """
    if set(populate) <= {"person"}:
        with_person = "person" in populate
        query = _IDENTITY_WITH_PERSON if with_person else _IDENTITY
        _columns, rows = query.execute(realm_id=realm.pk, identity_id=identity_id)
        if not rows:
            raise NotFound(f"identity {identity_id} does not exist")
        return _identity_from_row(rows[0], realm, with_person=with_person)
    identity = with_populated(Identity.objects.filter(realm=realm, pk=identity_id), populate).first()
    if identity is None:
        raise NotFound(f"identity {identity_id} does not exist")
    return identity


def _identity_from_row(row, realm, *, with_person: bool) -> Identity:
    width = len(IDENTITY_ATTNAMES)
    identity = Identity.from_db("default", IDENTITY_ATTNAMES, row[:width])
    identity.realm = realm
    if with_person:
        if identity.person_id is None:
            identity.person = None
        else:
            person = Person.from_db("default", PERSON_ATTNAMES, row[width : width + len(PERSON_ATTNAMES)])
            person.realm = realm
            for name, value in zip(AGGREGATES, row[width + len(PERSON_ATTNAMES) :], strict=True):
                setattr(person, name, value)
            identity.person = person
    return identity


def identity_list(realm, query, populate=()):
    """Identities of `realm` narrowed by the list's query parameters (type, country, person, company, alias).

    `person`/`company` take an id or `null` (identities without one).
    """
    errors = ErrorCollector()
    queryset = Identity.objects.filter(realm=realm)
    kind = query.get("type")
    if kind:
        if kind not in IdentityType.values:
            errors.add("type", f"{kind[:40]!r} is not one of {', '.join(IdentityType.values)}")
        queryset = queryset.filter(type=kind)
    country = query.get("country")
    if country:
        queryset = queryset.filter(country=country.upper())
    for field in ("person", "company"):
        value = query.get(field)
        if not value:
            continue
        if value == "null":
            queryset = queryset.filter(**{f"{field}__isnull": True})
        elif parse_object_id(value) is None:
            errors.add(field, f"{value[:40]!r} is not an id (or null)")
        else:
            queryset = queryset.filter(**{f"{field}_id": parse_object_id(value)})
    alias = query.get("alias")
    if alias:
        queryset = queryset.annotate(lalias=Lower("alias")).filter(lalias=alias.lower())
    errors.raise_if_any()
    return with_populated(queryset, populate)
