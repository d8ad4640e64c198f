from __future__ import annotations

from django.db.models.functions import Lower

from cdpadmin.errors import ErrorCollector, NotFound
from identities.models import Identity, IdentityType, Realm, RealmMember
from identities.representation import with_populated
from identities.serializers import parse_object_id


def user_realm_ids(user) -> list[int] | None:
    """Realms a staff user may see in the admin; None means every realm (superusers).

    Cached on the user object, so a request asks the database once.
    """
    if user.is_superuser:
        return None
    cached = getattr(user, "_cdp_realm_ids", None)
    if cached is None:
        cached = list(RealmMember.objects.filter(user=user).values_list("realm_id", flat=True))
        user._cdp_realm_ids = cached
    return cached


def realms_for_user(user):
    ids = user_realm_ids(user)
    return Realm.objects.all() if ids is None else Realm.objects.filter(pk__in=ids)


def identities_of_person(person) -> list[Identity]:
    return list(Identity.objects.filter(person=person).order_by("-created")[:50])


def identity_get(realm, identity_id: str, populate=()) -> Identity:
    """An identity of `realm` with what `populate` needs joined; another realm's id is simply not found."""
    identity = with_populated(Identity.objects.filter(realm=realm, pk=identity_id), populate).first()
    if identity is None:
        raise NotFound(f"identity {identity_id} does not exist")
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
