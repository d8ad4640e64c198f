import factory

from companies.models import Company
from tests.identities.factories import RealmFactory


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    country = "Croatia"
