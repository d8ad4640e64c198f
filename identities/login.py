"""The admin login form, throttled against brute force (identities.throttle)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from identities import throttle


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login, refused while its client address or username is locked (identities.throttle)."""

    def clean(self):
        username = self.cleaned_data.get("username")
        subjects = throttle.admin_subjects(self.request, username)
        wait = throttle.locked_seconds(subjects)
        if wait:
            raise forms.ValidationError(throttle.MSG_ADMIN_LOCKED.format(seconds=wait), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(subjects)
            raise
        throttle.forget(subjects[1:])
        return cleaned
