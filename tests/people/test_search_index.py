"""The name search stays an index lookup: the folded (unaccented, lower-case) name indexes serve `juric%`."""

import pytest
from django.db import connection

from people import selectors
from people.models import Person
from people.seeding import seed_persons

pytestmark = pytest.mark.django_db


def plan_of(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_folded_name_search_uses_the_name_indexes(realm):
    seed_persons(realm=realm, persons=3000, identities="none", events_per_person=0)
    Person.objects.create(realm=realm, first_name="Ana", last_name="Jurić")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_person")

    found = selectors.person_search(Person.objects.filter(realm=realm), "juric")
    assert "Jurić" in {p.last_name for p in found}
    plan = plan_of(found.order_by().values("pk"))
    assert "person_last_name_folded" in plan
    assert "person_first_name_folded" in plan
    assert "Seq Scan on people_person" not in plan

    two_words = selectors.person_search(Person.objects.filter(realm=realm), "ana jurić")
    assert {(p.first_name, p.last_name) for p in two_words} == {("Ana", "Jurić")}
    assert "person_last_name_folded" in plan_of(two_words.order_by().values("pk"))
