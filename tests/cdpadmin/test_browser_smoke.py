import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_dashboard_renders_in_chromium(realm, admin_page):
    admin_page.goto("/admin/")
    assert admin_page.locator("#realm-counts").inner_text().count("Acme") == 1
    assert admin_page.locator("#persons-per-day svg").count() == 1
