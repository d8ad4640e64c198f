"""The sync run page in chromium: its live progress follows the run without a reload."""

import pytest
from playwright.sync_api import expect

from infobip.models import SyncRun, SyncRunStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_run_page_shows_progress_live(cdp_realm, admin_page):
    run = SyncRun.objects.create(
        realm=cdp_realm,
        status=SyncRunStatus.RUNNING,
        progress={"total": 4000, "persons_seen": 1000, "pages_done": 1, "phase": "page 1 done"},
        counts={"step1": {"linked": 7}},
    )
    admin_page.goto(f"/admin/infobip/syncrun/{run.pk}/change/")
    expect(admin_page.locator("#sync-status")).to_have_text("Running")  # no eval: the page runs under our CSP
    assert admin_page.locator("#sync-count").inner_text().startswith("1000 of 4000")
    assert "linked 7" in admin_page.locator("#sync-counts").inner_text()
    assert "1. Identities without an Infobip person" in admin_page.locator("#sync-counts").inner_text()
    assert admin_page.locator("#sync-count").inner_text().endswith("1 page")
    assert admin_page.locator(".deletelink").count() == 0
    assert '"step1"' not in admin_page.locator("#content").inner_text()  # no raw JSON of the counts
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.screenshot(path="/tmp/admin14/syncrun-change.png", full_page=True)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRunStatus.SUCCEEDED,
        progress={"total": 4000, "persons_seen": 4000, "pages_done": 4, "phase": "done"},
        counts={"step1": {"linked": 9}},
    )
    expect(admin_page.locator("#sync-status")).to_have_text("Succeeded", timeout=15_000)
    assert admin_page.eval_on_selector("#sync-bar", "bar => bar.value") == 100
    assert "linked 9" in admin_page.locator("#sync-counts").inner_text()
