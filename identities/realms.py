"""Which realms a staff user may see: every admin page is scoped by these (core.admin_mixins asks through the
ADMIN_REALM_SCOPE setting)."""

from __future__ import annotations

from identities.models import Realm, RealmMember


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
