"""key_owners: a realm that holds no phone, email or externalId of anyone is answered by one probe per table,
without sending the file's keys; a realm that holds some still finds their owners (also another realm's); a
batch's thousands of keys are index probes, not a scan of the whole contact table."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from imports.grouping import key_owners
from people.models import PersonEmail, PersonPhone
from people.seeding import seed_persons
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


def test_a_batch_of_keys_is_looked_up_by_index_probes_whatever_its_length(realm):
    """10,000 keys against an analyzed table: given the list itself, the planner prices the probes above a
    sequential scan of the table (which, beside a million persons, every batch of an import then paid)."""
    seed_persons(realm=realm, persons=3000, identities="none", events_per_person=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_personphone, people_personemail, people_person")
    phone = PersonPhone.objects.filter(realm=realm).values_list("number", flat=True).first()
    email = PersonEmail.objects.filter(realm=realm).values_list("address", flat=True).first()
    keys = [f"p:3859{n:09d}" for n in range(6000)] + [f"e:x{n}@example.com" for n in range(4000)]
    keys += [f"x:crm-{n}" for n in range(2000)] + [f"p:{phone}", f"e:{email.lower()}"]
    with CaptureQueriesContext(connection) as queries:
        owners = key_owners(realm.pk, keys)
    assert {f"p:{phone}", f"e:{email.lower()}"} <= set(owners)
    lookups = [query["sql"] for query in queries if "ANY(" in query["sql"]]
    assert len(lookups) == 3
    for sql in lookups:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        plan = json.dumps(plan if isinstance(plan, list) else json.loads(plan))
        assert "Seq Scan" not in plan, (sql[:80], plan[:400])
