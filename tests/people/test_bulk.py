"""people/bulk.py, the one bulk writer of persons with contacts and tags, and core.bulk's statistics refresh."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from core import bulk as core_bulk
from core.errors import ValidationError
from people import bulk
from people.models import Origin, Person, PersonEmail, PersonPhone, SyncStatus
from tests.people.factories import PersonFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_insert_creates_persons_with_defaults_and_reserved_ids(realm):
    now = timezone.now()
    ids = bulk.persons_insert(
        realm=realm,
        rows=[
            {
                "first_name": "Ana",
                "last_name": "Horvat",
                "birth_date": dt.date(1990, 5, 1),
                "custom_attributes": {"a": 1},
            },
            {"first_name": "Ivo", "external_id": "ext-1", "type": "LEAD"},
        ],
        now=now,
        origin=Origin.IMPORT,
        sync_status=SyncStatus.LOCAL,
    )
    ana, ivo = (Person.objects.get(pk=pk) for pk in ids)
    assert (ana.first_name, ana.last_name, ana.birth_date, ana.custom_attributes) == (
        "Ana", "Horvat", dt.date(1990, 5, 1), {"a": 1},
    )  # fmt: skip
    assert (ana.type, ana.origin, ana.modified_from, ana.sync_status) == ("CUSTOMER", "IMPORT", "IMPORT", "local")
    assert (ana.external_id, ana.infobip_id, ana.merged_into_id, ana.created) == (None, None, None, now)
    assert (ivo.type, ivo.external_id) == ("LEAD", "ext-1")


def test_insert_keeps_given_ids(realm):
    pk = core_bulk.reserve_ids(Person, 1)[0]
    assert bulk.persons_insert(
        realm=realm, rows=[{"id": pk, "first_name": "X"}], now=timezone.now(), sync_status="local"
    ) == [pk]
    assert Person.objects.get(pk=pk).first_name == "X"


def test_update_sets_fields_and_constants_in_one_statement(realm, django_assert_max_num_queries):
    a = PersonFactory(realm=realm, first_name="A", custom_attributes={"x": 1})
    b = PersonFactory(realm=realm, first_name="B")
    later = timezone.now() + dt.timedelta(minutes=1)
    with django_assert_max_num_queries(4):  # staging table, truncate, UPDATE … FROM (the COPY is not a query)
        updated = bulk.persons_update(
            rows=[
                {"id": a.pk, "first_name": "Anna", "custom_attributes": {"x": 2}},
                {"id": b.pk, "first_name": "Bea", "custom_attributes": {}},
            ],
            fields=["first_name", "custom_attributes"],
            also={"modified": later, "sync_status": SyncStatus.PENDING},
        )
    assert updated == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.first_name, a.custom_attributes, a.modified, a.sync_status) == ("Anna", {"x": 2}, later, "pending")
    assert (b.first_name, b.custom_attributes) == ("Bea", {})


def test_contacts_and_tags_are_added_and_an_existing_tag_link_is_left_alone(realm):
    person = PersonFactory(realm=realm)
    vip, new = TagFactory(realm=realm, name="VIP"), TagFactory(realm=realm, name="New")
    person.tags.add(vip)
    written = bulk.contacts_add(
        realm=realm,
        now=timezone.now(),
        phones=[(person.pk, "385911234567")],
        emails=[(person.pk, "Ana@Example.com")],
        tags=[(person.pk, vip.pk), (person.pk, new.pk)],
    )
    assert written == (1, 1, 1)
    assert "385911234567" in set(PersonPhone.objects.filter(person=person).values_list("number", flat=True))
    assert "Ana@Example.com" in set(PersonEmail.objects.filter(person=person).values_list("address", flat=True))
    assert set(person.tags.values_list("name", flat=True)) == {"VIP", "New"}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"first_name": "Ana <script>"}, "first_name"),
        ({"first_name": "x" * 300}, "first_name"),
        ({"gender": "ROBOT"}, "gender"),
        ({"preferred_language": "english"}, "preferred_language"),
        ({"type": "VISITOR"}, "type"),
        ({"external_id": ""}, "external_id"),
    ],
)
def test_insert_refuses_what_the_constraints_would_and_writes_nothing(realm, row, field):
    with pytest.raises(ValidationError) as refused:
        bulk.persons_insert(
            realm=realm, rows=[{"first_name": "Fine"}, row], now=timezone.now(), sync_status=SyncStatus.LOCAL
        )
    assert field in refused.value.fields
    assert not Person.objects.filter(realm=realm).exists()


@pytest.mark.parametrize(
    ("phones", "emails"), [([(1, "+385911234567")], []), ([(1, "0911234567")], []), ([], [(1, "no-at-sign")])]
)
def test_contacts_refuse_numbers_that_are_not_international_digits_and_emails_without_at(realm, phones, emails):
    person = PersonFactory(realm=realm)
    with pytest.raises(ValidationError):
        bulk.contacts_add(
            realm=realm,
            now=timezone.now(),
            phones=[(person.pk, n) for _, n in phones],
            emails=[(person.pk, a) for _, a in emails],
        )


def test_update_refuses_a_bad_value(realm):
    person = PersonFactory(realm=realm, first_name="A")
    with pytest.raises(ValidationError):
        bulk.persons_update(rows=[{"id": person.pk, "first_name": "a/b"}], fields=["first_name"])
    person.refresh_from_db()
    assert person.first_name == "A"


def test_statistics_refresh_analyzes_a_never_analyzed_table_then_only_when_it_doubled():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bulk_stats_probe (id int PRIMARY KEY)")  # rolled back with the test
        assert core_bulk.statistics_refresh(["bulk_stats_probe"]) == []  # empty: nothing to learn
        cursor.execute("INSERT INTO bulk_stats_probe SELECT generate_series(1, 1000)")
        assert core_bulk.statistics_refresh(["bulk_stats_probe"]) == ["bulk_stats_probe"]  # never analyzed
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'bulk_stats_probe'")
        assert cursor.fetchone()[0] == 1000
        cursor.execute("INSERT INTO bulk_stats_probe SELECT generate_series(1001, 1800)")
        assert core_bulk.statistics_refresh(["bulk_stats_probe"]) == []  # 1,800 rows: not past twice 1,000
        cursor.execute("INSERT INTO bulk_stats_probe SELECT generate_series(1801, 2500)")
        assert core_bulk.statistics_refresh(["bulk_stats_probe"]) == ["bulk_stats_probe"]
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'bulk_stats_probe'")
        assert cursor.fetchone()[0] == 2500
