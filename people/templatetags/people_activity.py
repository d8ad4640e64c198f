"""{% person_activity_rows person_id %}: the person's history for its admin page (templates/admin/people/person/
activity.html, included by the person's change_form.html)."""

from __future__ import annotations

from django import template

from people.activity import person_activity

register = template.Library()


@register.simple_tag
def person_activity_rows(person_id, limit=50):
    return person_activity(int(person_id), limit=int(limit)) if person_id else []
