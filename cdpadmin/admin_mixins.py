"""What every realm-scoped ModelAdmin shares: staff see only the realms they are members of."""

from __future__ import annotations

from django.contrib import admin

from identities.selectors import realms_for_user, user_realm_ids

REALM_SCOPED_MODELS = {"person", "company", "tag", "identity", "customattributedefinition", "eventdefinition"}


class RealmScopedAdmin(admin.ModelAdmin):
    realm_field = "realm"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = user_realm_ids(request.user)
        return qs if ids is None else qs.filter(**{f"{self.realm_field}__in": ids})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related._meta.model_name == "realm":
            kwargs["queryset"] = realms_for_user(request.user)
        elif related._meta.model_name in REALM_SCOPED_MODELS:
            ids = user_realm_ids(request.user)
            if ids is not None:
                kwargs["queryset"] = related._default_manager.filter(realm__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        ids = user_realm_ids(request.user)
        if ids is not None and db_field.related_model._meta.model_name in REALM_SCOPED_MODELS:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(realm__in=ids)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def realm_filter_visible(self, request) -> bool:
        ids = user_realm_ids(request.user)
        return ids is None or len(ids) > 1


class RealmListFilter(admin.SimpleListFilter):
    """Realm filter listing only the realms the user may see."""

    title = "realm"
    parameter_name = "realm"

    def lookups(self, request, model_admin):
        return [(str(realm.pk), realm.name) for realm in realms_for_user(request.user)]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(realm_id=int(self.value()))
            except ValueError:
                return queryset.none()
        return queryset
