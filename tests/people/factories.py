import datetime as dt

import factory
from django.utils import timezone

from people.models import (
    ChannelProfile,
    CustomAttributeDefinition,
    EventDefinition,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
    Tag,
)
from tests.identities.factories import RealmFactory


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: f"Tag {n}")


class PersonFactory(factory.django.DjangoModelFactory):
    """PersonFactory(phones=["385991234567"], emails=["a@x.hr"], tags=["VIP"])"""

    class Meta:
        model = Person
        skip_postgeneration_save = True

    realm = factory.SubFactory(RealmFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    external_id = factory.Sequence(lambda n: f"ext-{n}")

    @factory.post_generation
    def phones(self, create, extracted, **kwargs):
        for number in extracted or []:
            PersonPhone.objects.create(realm=self.realm, person=self, number=number)

    @factory.post_generation
    def emails(self, create, extracted, **kwargs):
        for address in extracted or []:
            PersonEmail.objects.create(realm=self.realm, person=self, address=address)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        for name in extracted or []:
            tag, _ = Tag.objects.get_or_create(realm=self.realm, name=name)
            self.tags.add(tag)


class PersonPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PersonPhone

    person = factory.SubFactory(PersonFactory)
    realm = factory.SelfAttribute("person.realm")
    number = factory.Sequence(lambda n: f"3859910{n:05d}")


class PersonEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PersonEmail

    person = factory.SubFactory(PersonFactory)
    realm = factory.SelfAttribute("person.realm")
    address = factory.Sequence(lambda n: f"person{n}@example.com")


class ChannelProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelProfile

    person = factory.SubFactory(PersonFactory)
    realm = factory.SelfAttribute("person.realm")
    channel = "push"
    application_id = "FDCC8516470A3AE97FB8AC218D5D0D3D"
    identifier = factory.Sequence(lambda n: f"reg-{n}")
    data = factory.LazyAttribute(lambda o: {"applicationId": o.application_id, "registrationId": o.identifier})


class CustomAttributeDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomAttributeDefinition

    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: f"Attribute {n}")
    data_type = "STRING"


class EventDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventDefinition

    realm = factory.SubFactory(RealmFactory)
    definition_id = factory.Sequence(lambda n: f"event{n}")
    title = factory.LazyAttribute(lambda o: o.definition_id.title())
    fields = factory.LazyFunction(
        lambda: [{"name": "itemName", "type": "String"}, {"name": "price", "type": "Decimal"}]
    )


class PersonEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PersonEvent

    person = factory.SubFactory(PersonFactory)
    realm = factory.SelfAttribute("person.realm")
    definition = factory.SubFactory(EventDefinitionFactory, realm=factory.SelfAttribute("..realm"))
    event_id = factory.Sequence(lambda n: f"evt-{n}")
    occurred_time = factory.LazyFunction(timezone.now)
    properties = factory.LazyFunction(lambda: {"itemName": "Shoes", "price": 9.5})


def aged_person(realm, *, days_old, modified_days_ago=0, **kwargs):
    """A person created `days_old` days ago and last modified `modified_days_ago` days ago (merge rules use both)."""
    person = PersonFactory(realm=realm, **kwargs)
    now = timezone.now()
    Person.objects.filter(pk=person.pk).update(
        created=now - dt.timedelta(days=days_old), modified=now - dt.timedelta(days=modified_days_ago)
    )
    person.refresh_from_db()
    return person
