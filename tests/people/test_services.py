import pytest
from django.db import IntegrityError, transaction

from core.errors import Conflict, NotFound, ValidationError
from infobip.models import OutboxEntry
from people import services
from people.models import Person, PersonEmail, PersonPhone, SyncStatus, Tag
from tests.companies.factories import CompanyFactory
from tests.people.factories import (
    CustomAttributeDefinitionFactory,
    EventDefinitionFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


def create(realm, **kwargs):
    kwargs.setdefault("attributes", {"first_name": "Jane", "last_name": "Smith"})
    return services.person_create(realm=realm, **kwargs)


def test_create_person_with_contacts_tags_and_custom_attributes(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Contract Expiry", data_type="DATE")
    person = create(
        realm,
        attributes={"first_name": "Jane", "last_name": "Smith", "birth_date": "1966-01-15", "gender": "FEMALE"},
        phones=["099 123 4567", {"number": "+41 79 302 67 27"}],
        emails=[{"address": "Jane@Example.com"}],
        tags=["VIP Customers", "New Customers"],
        custom_attributes={"Contract Expiry": "2018-06-01"},
    )
    person.refresh_from_db()
    assert person.type == "CUSTOMER"
    assert str(person.birth_date) == "1966-01-15"
    assert sorted(person.phones.values_list("number", flat=True)) == ["385991234567", "41793026727"]
    assert list(person.emails.values_list("address", flat=True)) == ["Jane@example.com"]
    assert sorted(person.tags.values_list("name", flat=True)) == ["New Customers", "VIP Customers"]
    assert person.custom_attributes == {"Contract Expiry": "2018-06-01"}
    assert person.sync_status == SyncStatus.LOCAL


def test_unknown_tags_are_created_once_case_insensitively(realm):
    Tag.objects.create(realm=realm, name="VIP")
    person = create(realm, tags=["vip", "New", "NEW"])
    assert sorted(person.tags.values_list("name", flat=True)) == ["New", "VIP"]
    assert Tag.objects.filter(realm=realm).count() == 2


def test_email_belongs_to_one_person_regardless_of_case(realm):
    first = create(realm, emails=["jane@example.com"])
    with pytest.raises(ValidationError) as info:
        create(realm, emails=["JANE@EXAMPLE.COM"])
    (reason,) = info.value.fields["contactInformation.email"]
    assert f"already belongs to another person (id {first.pk})" in reason
    assert Person.objects.count() == 1  # nothing half-written


def test_phone_belongs_to_one_person_in_any_notation(realm):
    create(realm, phones=["+385 99 123 4567"])
    with pytest.raises(ValidationError, match="385991234567 already belongs"):
        create(realm, phones=["099/123-4567"])


def test_database_constraints_hold_without_the_service(realm):
    person = PersonFactory(realm=realm, emails=["a@x.hr"], phones=["385991234567"])
    other = PersonFactory(realm=realm)
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonEmail.objects.create(realm=realm, person=other, address="A@X.HR")
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonPhone.objects.create(realm=realm, person=other, number="385991234567")
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.filter(pk=person.pk).update(first_name="Ja;ne")


def test_contacts_cannot_cross_realms_even_through_the_orm(realm, other_realm):
    person = PersonFactory(realm=realm)
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonPhone.objects.create(realm=other_realm, person=person, number="385991234567")


@pytest.mark.parametrize("kind", ["phone", "email", "channel profile", "event"])
def test_a_contact_needs_an_existing_person_of_an_existing_realm(realm, kind):
    """The composite (person, realm) key is these tables' only foreign key (migration people/0011): it alone
    refuses a missing person and a missing realm, checked at once, not at commit."""
    from people.models import ChannelProfile, EventDefinition, PersonEvent

    person = PersonFactory(realm=realm)
    definition = EventDefinition.objects.create(realm=realm, definition_id="purchase", title="Purchase")
    missing = Person.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    def write(**ids):
        if kind == "phone":
            PersonPhone.objects.create(number="385991234567", **ids)
        elif kind == "email":
            PersonEmail.objects.create(address="a@x.hr", **ids)
        elif kind == "channel profile":
            ChannelProfile.objects.create(channel="push", identifier="reg-1", **ids)
        else:
            PersonEvent.objects.create(definition=definition, event_id="e1", **ids)

    for ids in ({"realm_id": realm.pk, "person_id": missing}, {"realm_id": realm.pk + 1000, "person_id": person.pk}):
        with pytest.raises(IntegrityError), transaction.atomic():
            write(**ids)
    write(realm_id=realm.pk, person_id=person.pk)  # the right pair is accepted


def test_same_contact_may_exist_in_two_realms(realm, other_realm):
    create(realm, emails=["jane@example.com"], phones=["385991234567"])
    create(other_realm, emails=["jane@example.com"], phones=["+385991234567"])
    assert PersonEmail.objects.count() == 2


def test_at_most_100_phones_and_emails(realm):
    numbers = [f"38599{n:07d}" for n in range(101)]
    with pytest.raises(ValidationError, match="at most 100 phones; this would make 101"):
        create(realm, phones=numbers)
    person = create(realm, phones=numbers[:100], emails=[f"p{n}@x.hr" for n in range(100)])
    with pytest.raises(ValidationError, match="at most 100 phones"):
        services.person_update(person=person, phones=[numbers[100]])
    with pytest.raises(ValidationError, match="at most 100 emails"):
        services.person_update(person=person, emails=["one-more@x.hr"])
    assert person.phones.count() == 100


def test_patch_keeps_what_is_not_sent_and_adds_contacts_and_tags(realm):
    person = create(realm, phones=["385991234567"], emails=["a@x.hr"], tags=["A"])
    services.person_update(
        person=person, attributes={"city": "Manchester"}, phones=["385981234567"], emails=["b@x.hr"], tags=["B"]
    )
    person.refresh_from_db()
    assert (person.first_name, person.city) == ("Jane", "Manchester")
    assert sorted(person.phones.values_list("number", flat=True)) == ["385981234567", "385991234567"]
    assert sorted(person.emails.values_list("address", flat=True)) == ["a@x.hr", "b@x.hr"]
    assert sorted(person.tags.values_list("name", flat=True)) == ["A", "B"]


def test_put_replaces_attributes_contacts_and_tags(realm):
    person = create(realm, phones=["385991234567"], emails=["a@x.hr"], tags=["A"])
    services.person_update(
        person=person, attributes={"last_name": "Doe"}, phones=["385981234567"], emails=[], tags=["B"], replace=True
    )
    person.refresh_from_db()
    assert (person.first_name, person.last_name) == ("", "Doe")
    assert list(person.phones.values_list("number", flat=True)) == ["385981234567"]
    assert person.emails.count() == 0
    assert list(person.tags.values_list("name", flat=True)) == ["B"]


def test_custom_attributes_patch_sets_and_null_removes(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Points", data_type="INTEGER")
    CustomAttributeDefinitionFactory(realm=realm, name="Store", data_type="STRING")
    person = create(realm, custom_attributes={"Points": 1, "Store": "Zagreb"})
    services.person_update(person=person, custom_attributes={"Points": None, "Store": "Split"})
    person.refresh_from_db()
    assert person.custom_attributes == {"Store": "Split"}
    with pytest.raises(ValidationError) as info:
        services.person_update(person=person, custom_attributes={"Points": "many"})
    assert info.value.fields == {"customAttributes.Points": ["expected INTEGER, got string"]}


def test_company_of_another_realm_is_refused(realm, other_realm):
    company = CompanyFactory(realm=other_realm)
    with pytest.raises(ValidationError, match="another realm"):
        create(realm, company=company)


def test_outbox_rows_are_written_with_the_change_only_when_the_extension_is_on(realm, cdp_realm):
    create(realm)
    assert OutboxEntry.objects.count() == 0
    person = create(cdp_realm, phones=["385991234567"], tags=["VIP"])
    assert person.sync_status == SyncStatus.PENDING
    rows = list(OutboxEntry.objects.values_list("entity", "op", "entity_id"))
    assert ("person", "create", str(person.pk)) in rows
    assert ("tag", "create", "VIP") in rows
    services.person_update(person=person, attributes={"city": "Split"})
    update = OutboxEntry.objects.filter(op="update").get()
    assert update.payload["fields"] == ["city"]


def test_a_failed_change_leaves_no_outbox_row(cdp_realm):
    create(cdp_realm, emails=["a@x.hr"])
    before = OutboxEntry.objects.count()
    with pytest.raises(ValidationError):
        create(cdp_realm, emails=["A@x.hr"])
    assert OutboxEntry.objects.count() == before


def test_delete_records_the_identifiers_infobip_needs(cdp_realm):
    person = create(cdp_realm, phones=["385991234567"], emails=["a@x.hr"])
    services.person_delete(person=person)
    entry = OutboxEntry.objects.get(op="delete")
    assert entry.payload["phones"] == ["385991234567"]
    assert entry.payload["emails"] == ["a@x.hr"]
    assert not Person.objects.exists()


def test_update_of_a_merged_person_is_refused(realm):
    survivor = PersonFactory(realm=realm)
    absorbed = PersonFactory(realm=realm)
    Person.objects.filter(pk=absorbed.pk).update(merged_into=survivor)
    with pytest.raises(Conflict):
        services.person_update(person=absorbed, attributes={"city": "X"})


def test_custom_attribute_definition_lifecycle(realm):
    with pytest.raises(ValidationError, match="needs an object schema"):
        services.custom_attribute_definition_create(realm=realm, name="Cart", data_type="LIST_OF_OBJECTS")
    definition = services.custom_attribute_definition_create(realm=realm, name="Store", data_type="STRING")
    with pytest.raises(ValidationError, match="already exists"):
        services.custom_attribute_definition_create(realm=realm, name="Store", data_type="STRING")
    person = create(realm, custom_attributes={"Store": "Zagreb"})
    assert services.custom_attribute_definition_delete(definition=definition) == 1
    person.refresh_from_db()
    assert person.custom_attributes == {}


def test_events_need_a_definition_and_fitting_properties_and_dedupe_by_event_id(realm):
    definition = EventDefinitionFactory(realm=realm, definition_id="addToCart")
    person = PersonFactory(realm=realm)
    with pytest.raises(NotFound):
        services.person_event_record(person=person, definition_id="nope", properties={})
    with pytest.raises(ValidationError) as info:
        services.person_event_record(person=person, definition_id="addToCart", properties={"price": "cheap", "x": 1})
    assert set(info.value.fields) == {"properties.price", "properties.x"}
    event, created = services.person_event_record(
        person=person, definition_id=definition.definition_id, properties={"itemName": "Shoes"}, event_id="e-1"
    )
    again, created_again = services.person_event_record(
        person=person, definition_id="addToCart", properties={"itemName": "Shoes"}, event_id="e-1"
    )
    assert created
    assert not created_again
    assert again.pk == event.pk


def test_event_definition_update_is_additive(realm):
    definition = services.event_definition_create(
        realm=realm, definition_id="purchase", title="Purchase", fields=[{"name": "total", "type": "Decimal"}]
    )
    services.event_definition_update(
        definition=definition,
        title="Purchase v2",
        fields=[{"name": "total", "type": "Decimal"}, {"name": "orderId", "type": "String"}],
    )
    with pytest.raises(ValidationError, match="cannot be removed"):
        services.event_definition_update(definition=definition, title="x", fields=[])
    with pytest.raises(ValidationError, match="cannot change its type"):
        services.event_definition_update(definition=definition, title="x", fields=[{"name": "total", "type": "String"}])


def test_tag_delete_removes_it_from_persons(realm):
    person = create(realm, tags=["VIP"])
    services.tag_delete(tag=Tag.objects.get(name="VIP"))
    assert person.tags.count() == 0


@pytest.mark.parametrize(
    "bad",
    [{"tags": ["x" * 300]}, {"emails": ["taken@example.com"]}, {"attributes": {"first_name": "A#"}}],
)
def test_person_create_refuses_before_writing_so_the_callers_transaction_goes_on(realm, bad):
    """person_create takes no savepoint inside a caller's transaction: its refusals must come before any write."""
    services.person_create(realm=realm, emails=["taken@example.com"])
    with transaction.atomic():
        with pytest.raises(ValidationError):
            services.person_create(realm=realm, **{"emails": ["new@example.com"], **bad})
        assert Person.objects.filter(realm=realm).count() == 1  # the transaction is still usable
        services.person_create(realm=realm, emails=["other@example.com"], tags=["Fine"])
    assert Person.objects.filter(realm=realm).count() == 2


def test_person_create_finds_existing_tags_in_its_uniqueness_query(realm):
    Tag.objects.create(realm=realm, name="VIP Customers")
    person = services.person_create(realm=realm, emails=["a@example.com"], tags=["vip customers", "Brand New"])
    assert sorted(person.tags.values_list("name", flat=True)) == ["Brand New", "VIP Customers"]
    assert person.agg_tags == ["VIP Customers", "Brand New"]


def test_empty_contact_values_are_skipped_not_refused(realm):
    # The source document's own example sends "email": [{"address": ""}]: no address, not a bad one.
    person = services.person_create(
        realm=realm,
        attributes={"first_name": "Jane"},
        phones=[{"number": ""}, {"number": "+385 91 123 4567"}],
        emails=[{"address": ""}, {"address": "  "}],
    )
    assert list(person.phones.values_list("number", flat=True)) == ["385911234567"]
    assert not person.emails.exists()
    with pytest.raises(ValidationError) as info:
        services.person_create(realm=realm, attributes={"first_name": "Jo"}, emails=[{"address": "no-at-sign"}])
    assert "contactInformation.email[0]" in info.value.fields
