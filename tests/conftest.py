import pytest

from tests.identities.factories import RealmFactory


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
