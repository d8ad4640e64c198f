"""people_person.tag_ids (migration people 0006) follows the link table whatever writes it, and the persons
filter on tags reads it."""

import json

from django.db import connection

from people import services
from people.filtering import person_filter_q
from people.merging import persons_merge
from people.models import Person, Tag
from tests.people.factories import PersonFactory, aged_person


def tag_ids(person) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tag_ids FROM people_person WHERE id = %s", [person.pk])
        return sorted(cursor.fetchone()[0])


def ids_of(realm, *names):
    return sorted(Tag.objects.filter(realm=realm, name__in=names).values_list("pk", flat=True))


def test_add_remove_set_clear_and_save_keep_it_right(realm):
    person = PersonFactory(realm=realm, tags=["A", "B"])
    assert tag_ids(person) == ids_of(realm, "A", "B")
    c = Tag.objects.create(realm=realm, name="C")
    person.tags.add(c)
    person.save()  # Django doesn't know the column: a save never writes a stale value over it
    assert tag_ids(person) == ids_of(realm, "A", "B", "C")
    person.tags.remove(Tag.objects.get(name="A"))
    assert tag_ids(person) == ids_of(realm, "B", "C")
    person.tags.set([c])
    assert tag_ids(person) == ids_of(realm, "C")
    person.tags.clear()
    assert tag_ids(person) == []


def test_deleting_a_tag_or_moving_links_updates_every_holder(realm):
    one, two = PersonFactory(realm=realm, tags=["VIP", "X"]), PersonFactory(realm=realm, tags=["Y"])
    Person.tags.through.objects.filter(person=two).update(person=one)  # an UPDATE of links: both sides
    assert tag_ids(two) == []
    assert tag_ids(one) == ids_of(realm, "VIP", "X", "Y")
    third = PersonFactory(realm=realm, tags=["VIP"])
    services.tag_delete(tag=Tag.objects.get(name="VIP"))
    assert tag_ids(one) == ids_of(realm, "X", "Y")
    assert tag_ids(third) == []


def test_services_and_merges_keep_it_right(realm):
    created = services.person_create(realm=realm, attributes={"first_name": "A"}, emails=["a@x.hr"], tags=["T1"])
    assert tag_ids(created) == ids_of(realm, "T1")
    services.person_update(person=created, tags=["T2"])
    assert tag_ids(created) == ids_of(realm, "T1", "T2")
    other = aged_person(realm, days_old=1, emails=["b@x.hr"], tags=["T3"])
    persons_merge(survivor=created, others=[other])
    assert tag_ids(created) == ids_of(realm, "T1", "T2", "T3")
    assert tag_ids(other) == []


def test_the_filter_reads_it_also_inside_a_subquery(realm):
    vip = PersonFactory(realm=realm, last_name="Smith", tags=["VIP Customers"])
    PersonFactory(realm=realm, last_name="Smith", tags=["Other"])
    q = person_filter_q(realm, json.dumps({"#contains": {"tags": "vip customers"}}))
    assert list(Person.objects.filter(q).values_list("pk", flat=True)) == [vip.pk]
    inner = Person.objects.filter(q).values("pk")
    assert list(Person.objects.filter(pk__in=inner).values_list("pk", flat=True)) == [vip.pk]
    negated = person_filter_q(realm, json.dumps({"#notContain": {"tags": "VIP Customers"}}))
    assert vip.pk not in set(Person.objects.filter(negated).values_list("pk", flat=True))
    unknown = person_filter_q(realm, json.dumps({"#contains": {"tags": "Nobody has it"}}))
    assert not Person.objects.filter(unknown).exists()
