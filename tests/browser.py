"""Browser fixtures: Debian's chromium (never a downloaded build) driven by Playwright against live_server.

Register with `pytest_plugins` (tests/conftest.py does). Tests using them carry `@pytest.mark.browser`.
"""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def is_csp_violation(text: str) -> bool:
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture
def page(browser, live_server):
    """A tab of the live server; every browser test fails if the page broke its Content-Security-Policy."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.console_messages = []
    tab.on("console", lambda message: tab.console_messages.append(f"{message.type}: {message.text}"))
    tab.on("pageerror", lambda error: tab.console_messages.append(f"pageerror: {error}"))
    yield tab
    context.close()
    violations = [text for text in tab.console_messages if is_csp_violation(text)]
    assert not violations, f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def admin_page(page, django_user_model):
    """A page logged in to the admin as a superuser (username `browser-admin`)."""
    password = "browser-pass-123"
    django_user_model.objects.create_superuser("browser-admin", "", password)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "browser-admin")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page
