"""Headless Chromium: select two persons, merge them with a non-default choice, check, undo."""

import datetime as dt

import pytest
from django.utils import timezone

from people.models import MergeRecord, Person
from tests.companies.factories import CompanyFactory
from tests.people.factories import PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_merge_two_persons_with_a_non_default_choice_then_undo(realm, admin_page):
    now = timezone.now()
    old = PersonFactory(realm=realm, first_name="Jon", last_name="Smith", phones=["385991111111"], city="Zagreb")
    company = CompanyFactory(realm=realm, name="Orangepill")
    new = PersonFactory(
        realm=realm, first_name="John", last_name="Smith", phones=["385992222222"], external_id=None, company=company
    )
    Person.objects.filter(pk=old.pk).update(created=now - dt.timedelta(days=9), modified=now - dt.timedelta(days=5))
    Person.objects.filter(pk=new.pk).update(created=now - dt.timedelta(days=1), modified=now)
    page = admin_page

    page.goto("/admin/people/person/")
    page.check(f"input.action-select[value='{old.pk}']")
    page.check(f"input.action-select[value='{new.pk}']")
    page.select_option("select[name=action]", "merge_persons")
    page.click("button[name=index]")
    page.wait_for_selector("#merge-profiles")
    # Infobip's rule picks the newer "John"; keep the older "Jon" instead.
    assert page.is_checked(f"input[name=choice__first_name][value='{new.pk}']")
    page.check(f"input[name=choice__first_name][value='{old.pk}']")
    page.click("#show-more summary")
    assert "City: Zagreb" in page.inner_text("#show-more")  # the person form's labels, not API names
    assert "firstName" not in page.inner_text("#content")
    assert "First name" in page.inner_text("#merge-panel")
    assert page.locator("#merge-panel h2", has_text="Channel profiles").count() == 0  # none to choose
    page.click("#merge-preview-button")
    page.wait_for_selector("#merge-preview")
    preview = page.inner_text("#merge-preview")
    assert "Jon" in preview
    assert "385992222222" in preview
    changed = page.locator("#merge-preview tr.cdp-changed th").all_inner_texts()
    assert "Company" in changed  # the survivor gains the company …
    assert "First name" not in changed  # … and keeps its first name
    assert "Orangepill" in page.inner_text("#merge-preview tr.cdp-changed >> nth=0") or "Orangepill" in preview
    assert page.evaluate("() => document.getElementById('merge-preview').getBoundingClientRect().top") < 200
    assert f"Person {new.pk} becomes an alias of person {old.pk}." in preview
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path="/tmp/admin14/merge-preview.png", full_page=True)
    page.click("#merge-confirm-button")
    page.wait_for_selector(".messagelist .success")
    assert f"Merged person {new.pk} into person {old.pk}" in page.inner_text(".messagelist")

    survivor = Person.objects.get(pk=old.pk)
    assert survivor.first_name == "Jon"
    assert sorted(survivor.phones.values_list("number", flat=True)) == ["385991111111", "385992222222"]
    assert Person.objects.get(pk=new.pk).merged_into_id == old.pk

    page.click(".messagelist .success a")  # the link to the merge record
    page.click("#undo-merge-link")
    page.click("#undo-confirm")
    page.wait_for_selector(".messagelist .success")
    assert "undone" in page.inner_text(".messagelist")
    assert Person.objects.active().count() == 2
    assert MergeRecord.objects.get().undone_by == "staff:browser-admin"
    assert list(Person.objects.get(pk=new.pk).phones.values_list("number", flat=True)) == ["385992222222"]
