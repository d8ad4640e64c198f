"""The admin at 1280 px in chromium: every changelist fits without scrolling sideways, long values end in an
ellipsis with the full text as a tooltip; the person list's columns are the user's choice. Screenshots of
each page go to /tmp/admin14/ for a look by eye."""

from pathlib import Path

import pytest

from imports.models import ImportJob, ImportStatus
from infobip.models import OutboxEntry, OutboxStatus, SyncRun, SyncRunStatus
from tests.companies.factories import CompanyFactory
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/admin14")
LONG_EMAIL = "a.very.long.address.that.never.ends.for.anyone@subdomain.of.an.example-company.com"
CHANGELISTS = [
    "people/person",
    "companies/company",
    "infobip/outboxentry",
    "imports/importjob",
    "infobip/syncrun",
    "people/tag",
    "people/customattributedefinition",
]


@pytest.fixture
def wide_data(cdp_realm):
    CustomAttributeDefinitionFactory(realm=cdp_realm, name="Contract Expiry")
    company = CompanyFactory(realm=cdp_realm, name="Orangepill International Holding and Trading Company Ltd")
    for i in range(3):
        PersonFactory(
            realm=cdp_realm,
            company=company,
            first_name="Maximiliana-Konstantina",
            last_name=f"Vandenberghe-Oppenheimer {i}",
            emails=[f"{i}{LONG_EMAIL}"],
            phones=[f"38599123456{i}"],
            tags=["Newsletter subscribers", "Very important customers", "Autumn campaign 2026"],
        )
    OutboxEntry.objects.create(
        realm=cdp_realm,
        entity="person",
        entity_id="1",
        op="update",
        status=OutboxStatus.DEAD,
        last_error="HTTP 400 from Infobip: " + "the payload was refused because a field was not valid " * 4,
    )
    ImportJob.objects.create(
        realm=cdp_realm,
        original_name="customers-export-from-the-old-crm-system-final-version-2026-12-01.csv",
        started_by="browser-admin",
        status=ImportStatus.SUCCEEDED,
        rows_total=123456,
    )
    SyncRun.objects.create(realm=cdp_realm, status=SyncRunStatus.SUCCEEDED, counts={"step1": {"linked": 7}})


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_changelists_fit_1280_px(wide_data, admin_page, changelist):
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto(f"/admin/{changelist}/")
    SHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SHOTS / f"list-{changelist.replace('/', '-')}.png"), full_page=True)
    assert fits(admin_page), f"{changelist} scrolls sideways at 1280 px"
    table = admin_page.locator("#result_list")
    container = admin_page.locator("#changelist .results")
    assert table.bounding_box()["width"] <= container.bounding_box()["width"] + 1


def test_a_clipped_value_shows_its_full_text_on_hover(wide_data, admin_page):
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto("/admin/people/person/")
    cell = admin_page.locator("#result_list td.field-first_email").first
    assert cell.evaluate("td => td.scrollWidth > td.clientWidth")  # really clipped
    assert cell.evaluate("td => getComputedStyle(td).textOverflow") == "ellipsis"
    assert cell.get_attribute("title").endswith(LONG_EMAIL)


def test_staff_choose_the_person_columns_and_they_stay(wide_data, admin_page):
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto("/admin/people/person/")
    assert admin_page.locator("#result_list th.column-created").count() == 1
    assert admin_page.locator("#result_list th.column-city").count() == 0
    admin_page.click("#person-columns summary")
    admin_page.uncheck("#person-columns input[value=created]")
    admin_page.check("#person-columns input[value=city]")
    admin_page.click("#person-columns input[type=submit][value='Show these columns']")
    admin_page.wait_for_url("**/admin/people/person/")
    assert admin_page.locator("#result_list th.column-created").count() == 0
    assert admin_page.locator("#result_list th.column-city").count() == 1
    admin_page.goto("/admin/")
    admin_page.goto("/admin/people/person/")  # remembered
    assert admin_page.locator("#result_list th.column-city").count() == 1
    SHOTS.mkdir(exist_ok=True)
    admin_page.click("#person-columns summary")
    admin_page.screenshot(path=str(SHOTS / "list-person-columns.png"))


def test_the_dashboard_uses_the_width_in_cards(wide_data, admin_page):
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto("/admin/")
    SHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    assert fits(admin_page)
    content = admin_page.locator("#content").bounding_box()["width"]
    assert admin_page.locator("#realm-counts").bounding_box()["width"] > 0.9 * content
    chart, outbox = (admin_page.locator(s).bounding_box() for s in ("#persons-per-day", "#outbox-card"))
    assert chart["y"] == outbox["y"]  # side by side
    headers = admin_page.locator("#realm-counts th")
    for i in range(headers.count()):  # no header breaks mid-word ("REAL M", "PERSO NS")
        assert headers.nth(i).evaluate("th => th.getClientRects().length === 1 && th.scrollWidth <= th.clientWidth")
    assert admin_page.locator("#realms-seen").inner_text() == "You see every realm."
    assert "customers-export" in admin_page.locator("#last-imports").inner_text()
    assert "Succeeded" in admin_page.locator("#last-sync-runs").inner_text()
    assert "HTTP 400" in admin_page.locator("#outbox-card").inner_text()


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_sync_run_page_keeps_history_beside_the_title(cdp_realm, admin_page):
    run = SyncRun.objects.create(realm=cdp_realm, status=SyncRunStatus.SUCCEEDED, counts={"step1": {"linked": 7}})
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto(f"/admin/infobip/syncrun/{run.pk}/change/")
    admin_page.wait_for_selector("#sync-counts tr")
    SHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SHOTS / "syncrun-page.png"), full_page=True)
    history = admin_page.locator(".object-tools").bounding_box()
    assert not overlaps(history, admin_page.locator("#sync-live").bounding_box())
    assert fits(admin_page)
    icon = admin_page.locator("link[rel=icon]").get_attribute("href")
    assert admin_page.request.get(icon).status == 200  # a favicon, no 404 on every page


def test_the_merge_page_shows_no_empty_headings(cdp_realm, admin_page):
    a = PersonFactory(realm=cdp_realm, first_name="Ana", last_name="Jurić", phones=["385991111111"])
    b = PersonFactory(realm=cdp_realm, first_name="Ana", last_name="Juric", phones=["385991111112"])
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto(f"/admin/people/person/merge/?ids={a.pk},{b.pk}")
    SHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SHOTS / "merge-page.png"), full_page=True)
    headings = admin_page.locator("aside h2").all_inner_texts()
    assert "Phones" in headings
    assert not {"Emails", "Tags", "Channel profiles"} & set(headings)
    assert fits(admin_page)
