import pytest

from tests.identities.factories import RealmFactory

pytest_plugins = ["tests.browser", "infobip.sandbox.pytest_plugin"]


@pytest.fixture
def realm(db):
    return RealmFactory(name="Acme", default_country="HR", default_currency="EUR")


@pytest.fixture
def other_realm(db):
    return RealmFactory(name="Other", default_country="US", default_currency="USD")


@pytest.fixture
def cdp_realm(db):
    """A realm with the Infobip CDP extension enabled: its changes go to the outbox."""
    return RealmFactory(name="Pushing", default_country="HR", default_currency="EUR", cdp_enabled=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The dashboard and filter choices are cached; every test starts with an empty cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
