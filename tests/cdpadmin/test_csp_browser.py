"""Issue 16: the admin and Swagger UI run under our Content-Security-Policy with no console violations."""

import pytest

from tests.browser import is_csp_violation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PAGES = [
    "/admin/",
    "/admin/identities/realm/",
    "/admin/identities/realm/add/",
    "/admin/people/person/",
    "/admin/people/person/add/",
    "/admin/infobip/outboxentry/",
    "/admin/infobip/syncrun/",
    "/admin/imports/importjob/",
]


def test_admin_pages_and_swagger_have_a_policy_and_no_violations(realm, admin_page):
    from tests.people.factories import PersonFactory

    person = PersonFactory(realm=realm)
    for path in [
        *ADMIN_PAGES,
        f"/admin/people/person/{person.pk}/change/",
        f"/admin/people/person/{person.pk}/merge-with/",
    ]:
        response = admin_page.goto(path)
        assert response.status < 400, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy
        admin_page.wait_for_load_state("networkidle")
    response = admin_page.goto("/v1/docs/")
    assert "content-security-policy" in response.headers
    admin_page.wait_for_selector(".swagger-ui .information-container", timeout=20_000)
    admin_page.wait_for_load_state("networkidle")
    assert admin_page.locator(".opblock").count() > 5
    violations = [text for text in admin_page.console_messages if is_csp_violation(text)]
    assert not violations


def test_an_inline_script_without_the_nonce_is_blocked(admin_page):
    admin_page.goto("/admin/")
    admin_page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';"
        " document.body.appendChild(s); }"
    )
    assert admin_page.evaluate("() => window.__ran === true") is False
    assert any(is_csp_violation(text) for text in admin_page.console_messages)
    admin_page.console_messages.clear()  # the fixture's own check: this violation was the point
