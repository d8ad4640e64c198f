"""The type rule of the customer journey on every path: Lead → Customer is one way (people.journey)."""

import pytest

from identities import services as identity_services
from identities.ids import new_object_id
from infobip.sync.mirror import merge_rules
from people import journey
from people.merging import persons_merge
from people.models import Person
from tests.identities.factories import IdentityFactory
from tests.imports.helpers import csv_bytes, import_file
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_api_create_without_a_type_is_a_customer_and_with_lead_a_lead(api):
    plain = api.post("/v1/identities/person", {"person": {"firstName": "Ann"}}, format="json")
    lead = api.post("/v1/identities/person", {"person": {"firstName": "Bo", "type": "LEAD"}}, format="json")
    assert (plain.status_code, lead.status_code) == (201, 201)
    assert plain.json()["person"]["type"] == "CUSTOMER"
    assert lead.json()["person"]["type"] == "LEAD"


def test_api_patch_refuses_to_demote_a_customer_and_converts_a_lead(api, realm):
    customer = PersonFactory(realm=realm, type="CUSTOMER")
    lead = PersonFactory(realm=realm, type="LEAD")
    ids = [IdentityFactory(realm=realm, person=p).pk for p in (customer, lead)]
    refused = api.patch(f"/v1/identities/{ids[0]}/person", {"type": "LEAD"}, format="json")
    assert refused.status_code == 400
    assert journey.MSG_NO_DEMOTION in str(refused.json())
    customer.refresh_from_db()
    assert customer.type == "CUSTOMER"
    converted = api.patch(f"/v1/identities/{ids[1]}/person", {"type": "CUSTOMER"}, format="json")
    assert converted.status_code == 200
    assert converted.json()["person"]["type"] == "CUSTOMER"


def test_import_keeps_an_existing_customer_and_imports_leads(realm):
    PersonFactory(realm=realm, type="CUSTOMER", emails=["cust@example.com"])
    content = csv_bytes([["Email", "Type"], ["cust@example.com", "LEAD"], ["new@example.com", "LEAD"]])
    import_file(realm, "people.csv", content)
    assert Person.objects.get(emails__address="cust@example.com").type == "CUSTOMER"
    assert Person.objects.get(emails__address="new@example.com").type == "LEAD"


def test_import_converts_a_lead_to_customer(realm):
    PersonFactory(realm=realm, type="LEAD", emails=["lead@example.com"])
    import_file(realm, "people.csv", csv_bytes([["Email", "Type"], ["lead@example.com", "CUSTOMER"]]))
    assert Person.objects.get(emails__address="lead@example.com").type == "CUSTOMER"


def test_merge_keeps_customer_even_when_the_leads_type_is_chosen(realm):
    customer = PersonFactory(realm=realm, type="CUSTOMER", emails=["c@example.com"])
    lead = PersonFactory(realm=realm, type="LEAD", emails=["l@example.com"])
    persons_merge(survivor=lead, others=[customer], choices={"type": lead.pk})
    lead.refresh_from_db()
    assert lead.type == "CUSTOMER"


def test_sync_rule_is_the_same_one_way_rule():
    assert merge_rules.two_sided_winner("type", "CUSTOMER", "LEAD", theirs_newer=True) == "CUSTOMER"
    assert merge_rules.two_sided_winner("type", "LEAD", "CUSTOMER", theirs_newer=False) == "CUSTOMER"
    assert journey.type_kept("CUSTOMER", "LEAD") == "CUSTOMER"
    assert journey.type_kept("LEAD", "CUSTOMER") == "CUSTOMER"


def test_attaching_an_identity_makes_a_lead_a_customer(realm):
    lead = PersonFactory(realm=realm, type="LEAD")
    identity = identity_services.identity_create(realm=realm, owner=new_object_id())
    identity_services.identity_assign_person(identity=identity, person=lead)
    lead.refresh_from_db()
    assert lead.type == "CUSTOMER"
    other = PersonFactory(realm=realm, type="LEAD")
    identity_services.identity_create(realm=realm, owner=new_object_id(), person=other)
    other.refresh_from_db()
    assert other.type == "CUSTOMER"


def test_explicit_conversion_and_tracking_attributes(realm):
    lead = PersonFactory(realm=realm, type="LEAD")
    assert journey.tracking_attributes(lead, {"type": "CUSTOMER", "city": "Split"}) == {"city": "Split"}
    converted = journey.person_convert_to_customer(person=lead)
    assert converted.type == "CUSTOMER"
    assert journey.tracking_attributes(converted, {"city": "Rijeka"}) == {}
