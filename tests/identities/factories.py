import factory

from identities.ids import new_object_id
from identities.models import ApiKey, Identity, Realm, RealmMember
from identities.services import api_key_create


class RealmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Realm
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Realm {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))
    default_country = "HR"
    default_currency = "EUR"


class RealmMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RealmMember

    realm = factory.SubFactory(RealmFactory)
    user = factory.SubFactory("tests.identities.factories.StaffUserFactory")


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password("pw-staff-123")

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        """StaffUserFactory(permissions=["people.view_person", ...])"""
        if not create or not extracted:
            return
        from django.contrib.auth.models import Permission

        for dotted in extracted:
            app_label, codename = dotted.split(".")
            self.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Made through the service, like every key; the plain key is on `.plain` (only the hash is stored)."""

    class Meta:
        model = ApiKey

    realm = factory.SubFactory(RealmFactory)
    owner = factory.LazyFunction(new_object_id)
    name = ""

    @classmethod
    def _create(cls, model_class, realm, owner, name="", **kwargs):
        key, plain = api_key_create(realm=realm, owner=owner, name=name)
        key.plain = plain
        return key


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    realm = factory.SubFactory(RealmFactory)
    owner = factory.LazyFunction(new_object_id)
    type = "person"
    country = factory.LazyAttribute(lambda o: o.realm.default_country)
    currency = factory.LazyAttribute(lambda o: o.realm.default_currency)
    alias = factory.Sequence(lambda n: f"alias-{n}")
    data = factory.LazyFunction(dict)
