"""key_owners: a realm that holds no phone, email or externalId of anyone is answered by one probe per table,
without sending the file's keys; a realm that holds some still finds their owners (also another realm's)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from imports.grouping import key_owners
from tests.people.factories import PersonFactory

KEYS = ["p:385991234567", "e:ana@example.com", "x:crm-1", "p:385981111111"]


def test_a_realm_without_persons_costs_a_probe_per_table_and_no_key_lookup(realm, other_realm):
    PersonFactory(realm=other_realm, phones=["385991234567"], emails=["ana@example.com"], external_id="crm-1")
    with CaptureQueriesContext(connection) as queries:
        assert key_owners(realm.pk, KEYS) == {}
    assert len(queries) == 3
    assert not any("ANY(" in query["sql"] for query in queries)


def test_a_realm_with_persons_finds_each_kind_of_key(realm, other_realm):
    ana = PersonFactory(realm=realm, phones=["385991234567"], emails=["Ana@Example.com"], external_id="crm-1")
    PersonFactory(realm=other_realm, phones=["385981111111"])
    assert key_owners(realm.pk, KEYS) == {"p:385991234567": ana.pk, "e:ana@example.com": ana.pk, "x:crm-1": ana.pk}
    assert key_owners(realm.pk, []) == {}
