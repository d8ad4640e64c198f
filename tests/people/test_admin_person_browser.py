"""The person page in chromium at 1280 px, as an editor and as view-only staff (screenshots to /tmp/admin14)."""

from pathlib import Path

import pytest

from people.models import Person
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import ChannelProfileFactory, CustomAttributeDefinitionFactory, PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/admin14")


@pytest.fixture
def person(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Store", data_type="STRING")
    CustomAttributeDefinitionFactory(realm=realm, name="Contract Expiry", data_type="DATE")
    CustomAttributeDefinitionFactory(
        realm=realm, name="ShoppingCartList", data_type="LIST_OF_OBJECTS", object_schema={"product": "STRING"}
    )
    person = PersonFactory(
        realm=realm, first_name="Ana", last_name="Horvat", phones=["385991234567"], emails=["ana@example.com"]
    )
    Person.objects.filter(pk=person.pk).update(custom_attributes={"Store": "Zagreb", "Contract Expiry": "2027-01-31"})
    ChannelProfileFactory(person=person)
    return person


def login(page, username, password="pw-staff-123"):  # noqa: S107 - the factory's test password
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_the_person_page_as_editor(person, admin_page):
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto(f"/admin/people/person/{person.pk}/change/")
    SHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SHOTS / "person-change.png"), full_page=True)
    textarea = admin_page.locator("textarea[name^=ca__]")
    assert textarea.input_value() == ""  # not the literal "null"
    body = admin_page.locator("#content").inner_text()
    assert "Channel profiles (read-only)" in admin_page.locator("#content").text_content()
    assert "(READ-ONLY)S" not in body.upper()
    visible_titles = "ps => ps.filter(p => p.offsetParent !== null).length"
    assert admin_page.locator("td.original p").evaluate_all(visible_titles) == 0  # the input alone shows it
    assert admin_page.locator("input[value='ana@example.com']").count() == 1
    assert "Api" not in body.split()


def test_the_person_page_read_only(person, page, realm):
    user = StaffUserFactory(
        username="viewer", permissions=["people.view_person", "people.view_personphone", "people.view_personemail"]
    )
    RealmMemberFactory(realm=realm, user=user)
    login(page, "viewer")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/admin/people/person/{person.pk}/change/")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "person-view-only.png"), full_page=True)
    rows = page.locator("#custom-attributes tr")
    assert [rows.nth(i).inner_text().split("\t") for i in range(rows.count())] == [
        ["Contract Expiry", "2027-01-31"],
        ["ShoppingCartList", "—"],
        ["Store", "Zagreb"],
    ]
    body = page.locator("#content").inner_text()
    assert "Ca " not in body
    assert body.count("ana@example.com") == 1


def test_a_list_of_objects_attribute_is_edited_as_a_table(realm, admin_page):
    CustomAttributeDefinitionFactory(
        realm=realm, name="ShoppingCartList", data_type="LIST_OF_OBJECTS",
        object_schema={"productName": "STRING", "productPrice": "DECIMAL", "productCategory": "STRING"},
    )  # fmt: skip
    person = PersonFactory(realm=realm, first_name="Jane", last_name="Smith", emails=["jane@example.com"])
    cart = [{"productName": "Sneakers", "productPrice": 25.33, "productCategory": "Sport Sneakers"}]
    Person.objects.filter(pk=person.pk).update(custom_attributes={"ShoppingCartList": cart})
    page = admin_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/admin/people/person/{person.pk}/change/")
    table = page.locator("table.cdp-object-table")
    assert table.locator("thead th").all_inner_texts()[:3] == ["productName", "productPrice", "productCategory"]
    assert table.locator("tbody tr").count() == 1
    assert table.locator("tbody input").first.input_value() == "Sneakers"
    assert page.locator("textarea[name^=ca__]").is_hidden()

    page.click("button.cdp-object-add")
    row = table.locator("tbody tr").nth(1)
    row.locator("input").nth(0).fill("T-Shirt")
    row.locator("input").nth(1).fill("9.99")
    table.locator("tbody tr").nth(0).locator("input").nth(1).fill("19.5")
    SHOTS.mkdir(exist_ok=True)
    table.locator("xpath=ancestor::fieldset").screenshot(path=str(SHOTS / "person-object-table.png"))
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    person.refresh_from_db()
    assert person.custom_attributes["ShoppingCartList"] == [
        {"productName": "Sneakers", "productPrice": 19.5, "productCategory": "Sport Sneakers"},
        {"productName": "T-Shirt", "productPrice": 9.99},
    ]

    table = page.locator("table.cdp-object-table")
    table.locator("tbody tr").nth(0).locator("button.cdp-object-remove").click()
    table.locator("tbody tr").nth(0).locator("button.cdp-object-remove").click()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    person.refresh_from_db()
    assert "ShoppingCartList" not in person.custom_attributes
