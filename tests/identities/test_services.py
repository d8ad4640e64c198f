import pytest

from core.errors import ValidationError
from identities import services
from identities.ids import is_hex24, new_object_id
from identities.models import ApiKey, Identity
from tests.companies.factories import CompanyFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_object_ids_are_24_lowercase_hex_and_unique():
    ids = {new_object_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(is_hex24(i) for i in ids)


def test_identity_defaults_to_the_realms_country_and_currency(realm):
    identity = services.identity_create(realm=realm, owner=new_object_id(), alias="PERSON_ALIAS", data={"a": 1})
    assert (identity.type, identity.country, identity.currency) == ("neutral", "HR", "EUR")
    assert is_hex24(identity.id)
    assert identity.created_at_ms > 1_600_000_000_000


def test_identity_fields_are_validated_together(realm):
    with pytest.raises(ValidationError) as info:
        services.identity_create(realm=realm, owner="nope", type="robot", country="XX", currency="EURO", data=[1])
    assert set(info.value.fields) == {"owner", "type", "country", "currency", "data"}
    assert Identity.objects.count() == 0


def test_identity_links_must_stay_in_the_realm(realm, other_realm):
    person = PersonFactory(realm=other_realm)
    company = CompanyFactory(realm=other_realm)
    with pytest.raises(ValidationError) as info:
        services.identity_create(realm=realm, owner=new_object_id(), person=person, company=company)
    assert set(info.value.fields) == {"person", "company"}


def test_assign_and_unassign(realm):
    identity = services.identity_create(realm=realm, owner=new_object_id())
    person = PersonFactory(realm=realm)
    company = CompanyFactory(realm=realm)
    identity = services.identity_assign_person(identity=identity, person=person)
    identity = services.identity_update(identity=identity, company=company, country="US")
    assert (identity.person_id, identity.company_id, identity.country) == (person.pk, company.pk, "US")
    identity = services.identity_update(identity=identity, company=None)
    identity = services.identity_unassign_person(identity=identity)
    assert identity.person_id is None
    assert identity.company_id is None


def test_api_keys_are_stored_hashed_and_authenticate_in_their_realm(realm):
    key, plain = services.api_key_create(realm=realm, name="integrator")
    stored = ApiKey.objects.get(pk=key.pk)
    assert plain not in (stored.key_hash, stored.prefix)
    assert plain.startswith(f"cdp_{stored.prefix}_")
    assert len(stored.key_hash) == 64
    found = services.api_key_authenticate(plain)
    assert found.pk == key.pk
    assert found.realm == realm
    assert services.api_key_authenticate(plain + "x") is None
    assert services.api_key_authenticate(f"cdp_{stored.prefix}_wrong") is None
    assert services.api_key_authenticate("") is None
    services.api_key_revoke(key=key)
    assert services.api_key_authenticate(plain) is None


def test_realm_create_validates_iso_codes():
    with pytest.raises(ValidationError) as info:
        services.realm_create(name="X", default_country="XX", default_currency="ABC")
    assert set(info.value.fields) == {"country", "currency"}
