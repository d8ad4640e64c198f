"""In chromium: a bulk action from the person list through its confirmation page, and a segment built in the
form, its live count following every condition."""

import json

import pytest
from playwright.sync_api import expect

from people.models import Person, Segment
from tests.people.factories import PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_bulk_tag_from_the_person_list(admin_page, realm):
    ana = PersonFactory(realm=realm, first_name="Ana", last_name="Horvat")
    bo = PersonFactory(realm=realm, first_name="Bo", last_name="Kovac")
    cy = PersonFactory(realm=realm, first_name="Cy", last_name="Babic")
    admin_page.goto("/admin/people/person/")
    for person in (ana, bo):
        admin_page.check(f"input.action-select[value='{person.pk}']")
    admin_page.select_option("select[name=action]", "bulk_add_tag")
    admin_page.click("button[name=index], input[name=index]")

    assert admin_page.locator("#bulk-count").inner_text() == "Add a tag: 2 persons."
    admin_page.fill("input[name=tag]", "Fair 2026")
    admin_page.click("input[type=submit][value^='Yes']")

    admin_page.wait_for_url("**/admin/people/person/")
    assert "Tagged 2 person(s)." in admin_page.locator(".messagelist").inner_text()
    tagged = set(Person.objects.filter(tags__name="Fair 2026").values_list("pk", flat=True))
    assert tagged == {ana.pk, bo.pk}
    assert not cy.tags.exists()


def test_a_segment_built_in_the_form_with_its_live_count(admin_page, realm):
    PersonFactory(realm=realm, city="Zagreb", tags=["VIP"])
    PersonFactory(realm=realm, city="Zagreb")
    PersonFactory(realm=realm, city="Split", tags=["VIP"])
    admin_page.goto("/admin/people/segment/add/")
    count = admin_page.locator("#segment-live-count")
    admin_page.select_option("select[name=realm]", str(realm.pk))
    admin_page.fill("input[name=name]", "VIPs in Zagreb")

    admin_page.select_option("select[name=cond_0_field]", "city")
    assert admin_page.input_value("select[name=cond_0_op]") == "#eq"  # the field's first operator
    admin_page.fill("input[name=cond_0_value]", "Zagreb")
    expect(count).to_have_text("2 persons")

    admin_page.select_option("select[name=cond_1_field]", "tags")
    hidden = admin_page.locator("select[name=cond_1_op] option[value='#startsWith']").evaluate("o => o.hidden")
    assert hidden  # a list field offers contains / does not contain only
    admin_page.select_option("select[name=cond_1_op]", "#contains")
    admin_page.fill("input[name=cond_1_value]", "VIP")
    expect(count).to_have_text("1 person")
    assert json.loads(admin_page.locator("#segment-live-filter").inner_text()) == {
        "#and": [{"#eq": {"city": "Zagreb"}}, {"#contains": {"tags": "VIP"}}]
    }
    assert count.inner_text() == "1 person"

    admin_page.click("input[name=_save]")
    admin_page.wait_for_url("**/admin/people/segment/")
    segment = Segment.objects.get()
    assert json.loads(segment.filter) == {"#and": [{"#eq": {"city": "Zagreb"}}, {"#contains": {"tags": "VIP"}}]}
