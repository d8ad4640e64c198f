"""``{% website_activity person %}``: the person's tracked website events on its admin page (an include, so the
person admin's layout stays people's)."""

from django import template

from tracking.selectors import person_website_activity

register = template.Library()


@register.inclusion_tag("admin/tracking/website_activity.html")
def website_activity(person, limit: int = 50):
    return person_website_activity(person, limit=limit) if person is not None and person.pk else {"events": []}
