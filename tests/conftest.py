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


# ------------------------------------------------------------------------------------------------ REST API

SEED_OWNER = "6be52d34b56217fffbd6a7b0"


@pytest.fixture
def api_key(realm):
    from tests.identities.factories import ApiKeyFactory

    return ApiKeyFactory(realm=realm, owner=SEED_OWNER)


@pytest.fixture
def other_key(other_realm):
    from tests.identities.factories import ApiKeyFactory

    return ApiKeyFactory(realm=other_realm)


@pytest.fixture
def api(api_key):
    """A client of the realm `realm` that checks every response against the OpenAPI document."""
    from tests.api_support import api_client

    return api_client(api_key.plain)


@pytest.fixture
def other_api(other_key):
    from tests.api_support import api_client

    return api_client(other_key.plain)


@pytest.fixture
def anon(db):
    from tests.api_support import api_client

    return api_client()


@pytest.fixture
def seed_ids(db):
    from tests.api_support import bump_sequences

    bump_sequences()
