from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html

from core import iso
from core.admin_mixins import RealmListFilter, RealmScopedAdmin
from core.errors import ValidationError
from identities import services, throttle
from identities.ids import new_object_id
from identities.models import ApiKey, AuthThrottle, Identity, Realm, RealmMember
from identities.realms import user_realm_ids
from infobip.hosts import HostNotAllowed, check_base_url, same_url

MSG_KEY_AGAIN = (
    "A key belongs to the URL it was entered with: enter the Infobip API key for the new base URL "
    "(the stored key is not sent there)."
)


class RealmForm(forms.ModelForm):
    infobip_api_key = forms.CharField(
        label="Infobip API key",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "Never shown again after saving. Leave empty to keep the current key. A key belongs to the URL it "
            "was entered with: changing the base URL clears it, so enter the key again with a new URL."
        ),
    )
    clear_infobip_api_key = forms.BooleanField(label="Remove the stored key", required=False)

    class Meta:
        model = Realm
        fields = ["name", "slug", "default_country", "default_currency", "cdp_enabled", "infobip_base_url"]

    def clean_default_country(self):
        value = self.cleaned_data["default_country"].upper()
        if not iso.is_country(value):
            raise forms.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")
        return value

    def clean_default_currency(self):
        value = self.cleaned_data["default_currency"].upper()
        if not iso.is_currency(value):
            raise forms.ValidationError(f"{value!r} is not an ISO 4217 currency code.")
        return value

    def clean_infobip_base_url(self):
        url = self.cleaned_data.get("infobip_base_url") or ""
        if url:
            try:
                check_base_url(url)
            except HostNotAllowed as exc:
                raise forms.ValidationError(str(exc)) from exc
        return url

    def clean(self):
        cleaned = super().clean()
        url = cleaned.get("infobip_base_url") or ""
        moved = self.instance.pk and "infobip_base_url" in self.changed_data
        own_url = url and not same_url(url, settings.INFOBIP_BASE_URL)
        if moved and own_url and not cleaned.get("infobip_api_key"):
            self.add_error("infobip_api_key", MSG_KEY_AGAIN)
        return cleaned

    def save(self, commit=True):
        realm = super().save(commit=False)  # the stored token stays unless a key is entered or removed here
        new_key = self.cleaned_data.get("infobip_api_key")
        if self.cleaned_data.get("clear_infobip_api_key"):
            realm.infobip_api_key = ""
        elif new_key:
            realm.infobip_api_key = new_key
        if commit:
            realm.save()
        return realm


class RealmMemberInline(admin.TabularInline):
    model = RealmMember
    extra = 0
    autocomplete_fields = ["user"]


class UserRealmMemberInline(admin.TabularInline):
    """The same memberships seen from the user: a staff user who is no superuser sees only these realms."""

    model = RealmMember
    extra = 0
    autocomplete_fields = ["realm"]
    verbose_name = "realm membership"
    verbose_name_plural = "Realm memberships (the realms this user sees; superusers see every realm)"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class CdpUserAdmin(UserAdmin):
    """Django's user admin with the user's realm memberships on the same page (not only on each Realm's)."""

    inlines = [*UserAdmin.inlines, UserRealmMemberInline]
    list_display = [*UserAdmin.list_display, "realms"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("realm_memberships__realm")

    @admin.display(description="realms")
    def realms(self, obj):
        if obj.is_superuser:
            return "every realm"
        return ", ".join(sorted(m.realm.name for m in obj.realm_memberships.all())) or "—"


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "name", "owner", "created", "last_used_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Realm)
class RealmAdmin(admin.ModelAdmin):
    form = RealmForm
    list_display = ["name", "slug", "default_country", "default_currency", "cdp_enabled", "infobip_key", "created"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [RealmMemberInline, ApiKeyInline]
    fields = [
        "name", "slug", ("default_country", "default_currency"), "cdp_enabled", "infobip_base_url",
        "infobip_key", "infobip_api_key", "clear_infobip_api_key", "infobip_sync",
    ]  # fmt: skip
    readonly_fields = ["infobip_key", "infobip_sync"]

    @admin.display(description="two-way sync")
    def infobip_sync(self, obj):
        if obj is None or not obj.pk:
            return "—"
        runs = reverse("admin:infobip_syncrun_changelist") + f"?realm={obj.pk}"
        if not obj.cdp_enabled:
            return format_html('Enable the CDP extension to sync. <a href="{}">Earlier runs</a>', runs)
        start = reverse("admin:infobip_syncrun_start") + f"?realm={obj.pk}"
        return format_html('<a class="button" href="{}">Sync now</a> <a href="{}">Runs of this realm</a>', start, runs)

    @admin.display(description="stored Infobip key")
    def infobip_key(self, obj):
        return obj.infobip_api_key_masked or "—"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = user_realm_ids(request.user)
        return qs if ids is None else qs.filter(pk__in=ids)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["realm", "name", "owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial.setdefault("owner", new_object_id())


@admin.register(ApiKey)
class ApiKeyAdmin(RealmScopedAdmin):
    form = ApiKeyForm
    list_display = ["prefix", "name", "realm", "owner", "created", "last_used_at", "state"]
    list_filter = [RealmListFilter]
    search_fields = ["=prefix", "name", "=owner"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["realm", "owner", "prefix", "created", "last_used_at", "revoked_at"] if obj else []

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked_at:
            return format_html('<span style="color:#c62828">revoked {}</span>', obj.revoked_at.strftime("%Y-%m-%d"))
        return "active"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "modified"])
            return
        try:
            key, plain = services.api_key_create(realm=obj.realm, owner=obj.owner, name=obj.name)
        except ValidationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = key.pk
        obj.prefix = key.prefix
        self.message_user(
            request,
            format_html("Copy this key now, it will not be shown again: <code>{}</code>", plain),
            messages.WARNING,
        )

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, not deleted, so the audit trail keeps who called what

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        count = services.api_keys_revoke(keys=queryset)
        self.message_user(request, f"Revoked {count} key(s).")


class IdentityForm(forms.ModelForm):
    class Meta:
        model = Identity
        fields = ["realm", "owner", "type", "country", "currency", "alias", "data", "person", "company"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial.setdefault("owner", new_object_id())
        self.fields["country"].required = False
        self.fields["currency"].required = False
        self.fields["country"].help_text = "Empty: the realm's default country."
        self.fields["currency"].help_text = "Empty: the realm's default currency."
        if self.instance.pk and "realm" in self.fields:
            self.fields["realm"].disabled = True

    def clean(self):
        cleaned = super().clean()
        realm = cleaned.get("realm")
        for name in ("person", "company"):
            linked = cleaned.get(name)
            if realm and linked and linked.realm_id != realm.pk:
                self.add_error(name, f"The {name} belongs to another realm.")
        for name, check in (("country", iso.is_country), ("currency", iso.is_currency)):
            value = (cleaned.get(name) or "").upper()
            if value and not check(value):
                self.add_error(name, f"{value!r} is not a valid ISO code.")
            cleaned[name] = value or None
        return cleaned


@admin.register(Identity)
class IdentityAdmin(RealmScopedAdmin):
    form = IdentityForm
    list_display = ["id", "alias", "type", "realm", "country", "currency", "person", "company", "created"]
    list_filter = [RealmListFilter, "type", "country"]
    list_select_related = ["realm", "person", "company"]
    search_fields = ["=id", "alias", "=owner", "=person__id"]
    autocomplete_fields = ["person", "company"]
    readonly_fields = ["id", "created", "modified"]

    def save_model(self, request, obj, form, change):
        cleaned = form.cleaned_data
        fields = {name: cleaned.get(name) for name in ("type", "country", "currency", "alias", "data")}
        if change:
            services.identity_update(
                identity=obj, person=cleaned.get("person"), company=cleaned.get("company"), owner=cleaned["owner"],
                **fields,
            )  # fmt: skip
        else:
            created = services.identity_create(
                realm=cleaned["realm"],
                owner=cleaned["owner"],
                person=cleaned.get("person"),
                company=cleaned.get("company"),
                **fields,
            )
            obj.pk = created.pk
            obj.id = created.id


@admin.register(AuthThrottle)
class AuthThrottleAdmin(admin.ModelAdmin):
    """Superusers only: who failed to log in or used a bad API key, and who is locked; Unlock lifts it."""

    list_display = ["kind", "subject", "failures", "window_started", "last_failure_at", "locked_until", "state"]
    list_filter = ["kind"]
    search_fields = ["subject"]
    actions = ["unlock"]
    readonly_fields = list_display

    @admin.display(description="state")
    def state(self, obj):
        return "locked" if obj.is_locked else "counting"

    @admin.action(description="Unlock selected addresses and accounts")
    def unlock(self, request, queryset):
        count = throttle.unlock(list(queryset))
        self.message_user(request, f"Unlocked {count} address(es) / account(s).")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # the Unlock action is the way

    def has_add_permission(self, request):
        return False
