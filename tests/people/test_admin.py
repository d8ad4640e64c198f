import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from identities.models import Realm
from people.models import Person, PersonEmail, PersonPhone
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory, TagFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:people_person_changelist")


def inline_management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "100",
    }


def person_post(realm, **overrides):
    data = {
        "realm": str(realm.pk),
        "type": "CUSTOMER",
        "external_id": "",
        "first_name": "Jane",
        "middle_name": "",
        "last_name": "Smith",
        "gender": "FEMALE",
        "birth_date": "1966-01-15",
        "preferred_language": "en",
        "address": "67 Farringdon Road",
        "city": "London",
        "country": "United Kingdom",
        "profile_picture": "",
        **inline_management("phones", 1),
        "phones-0-number": "099 123 4567",
        **inline_management("emails", 1),
        "emails-0-address": "jane@example.com",
        **inline_management("channel_profiles", 0),
    }
    data.update(overrides)
    return data


def test_add_person_through_the_admin_uses_the_service(admin_client, realm):
    response = admin_client.post(reverse("admin:people_person_add") + f"?realm={realm.pk}", person_post(realm))
    assert response.status_code == 302, response.content.decode()[:3000]
    person = Person.objects.get()
    assert person.origin == "PORTAL"
    assert list(person.phones.values_list("number", flat=True)) == ["385991234567"]
    assert list(person.emails.values_list("address", flat=True)) == ["jane@example.com"]


def test_admin_shows_forbidden_character_and_bad_phone_on_the_fields(admin_client, realm):
    response = admin_client.post(
        reverse("admin:people_person_add"), person_post(realm, first_name="Ja<ne", **{"phones-0-number": "12ab"})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "contains the forbidden character &#x27;&lt;&#x27;" in html
    assert "&#x27;12ab&#x27; is not a valid phone number" in html
    assert Person.objects.count() == 0


def test_admin_refuses_an_email_of_another_person(admin_client, realm):
    other = PersonFactory(realm=realm, emails=["jane@example.com"])
    response = admin_client.post(
        reverse("admin:people_person_add"), person_post(realm, **{"emails-0-address": "JANE@example.com"})
    )
    assert response.status_code == 200
    assert f"already belongs to another person (id {other.pk})" in response.content.decode()


def test_change_person_replaces_contacts_and_custom_attributes(admin_client, realm):
    definition = CustomAttributeDefinitionFactory(realm=realm, name="Points", data_type="INTEGER")
    person = PersonFactory(realm=realm, phones=["385991234567"], emails=["a@x.hr"])
    phone, email = person.phones.get(), person.emails.get()
    data = person_post(
        realm,
        **inline_management("phones", 2, initial=1),
        **{"phones-0-id": str(phone.pk), "phones-0-person": str(person.pk), "phones-0-number": "385991234567",
           "phones-0-DELETE": "on", "phones-1-number": "+49 151 23456789"},
        **inline_management("emails", 1, initial=1),
        **{"emails-0-id": str(email.pk), "emails-0-person": str(person.pk), "emails-0-address": "a@x.hr"},
        **{f"ca__{definition.pk}": "12"},
    )  # fmt: skip
    response = admin_client.post(reverse("admin:people_person_change", args=[person.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    person.refresh_from_db()
    assert list(PersonPhone.objects.filter(person=person).values_list("number", flat=True)) == ["4915123456789"]
    assert list(PersonEmail.objects.filter(person=person).values_list("address", flat=True)) == ["a@x.hr"]
    assert person.custom_attributes == {"Points": 12}
    assert person.first_name == "Jane"


def test_changelist_query_count_does_not_grow_with_the_page(admin_client, realm, django_assert_max_num_queries):
    tag = TagFactory(realm=realm, name="VIP")
    for n in range(5):
        PersonFactory(realm=realm, phones=[f"38599100{n:04d}"], emails=[f"p{n}@x.hr"], tags=["VIP"])
    admin_client.get(CHANGELIST)  # warm the country-filter cache
    with django_assert_max_num_queries(9) as small:
        admin_client.get(CHANGELIST)
    for n in range(5, 120):
        PersonFactory(realm=realm, phones=[f"38599100{n:04d}"], emails=[f"p{n}@x.hr"], tags=["VIP"])
    with django_assert_max_num_queries(9) as large:
        response = admin_client.get(CHANGELIST, {"tag": tag.pk})
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(response.context["cl"].result_list) == 100
    html = response.content.decode()
    assert "p119@x.hr" in html
    assert "385991000119" in html
    assert "VIP" in html


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("jane@", ["Jane"]),
        ("+385 99 1234567", ["Jane"]),
        ("Smi", ["Jane"]),
        ("jane smi", ["Jane"]),
        ("ext-77", ["Ivo"]),
        # accents and case ignored both ways
        ("ivic", ["Ivo"]),
        ("IVIC", ["Ivo"]),
        ("ivić", ["Ivo"]),
        ("ivo ivi", ["Ivo"]),
        ("šmi", ["Jane"]),
        ("jané smith", ["Jane"]),
        ("ivicx", []),
    ],
)
def test_person_search(admin_client, realm, term, expected):
    PersonFactory(realm=realm, first_name="Jane", last_name="Smith", phones=["385991234567"], emails=["jane@x.hr"])
    PersonFactory(realm=realm, first_name="Ivo", last_name="Ivić", external_id="ext-77", emails=["ivo@x.hr"])
    response = admin_client.get(CHANGELIST, {"q": term})
    names = [p.first_name for p in response.context["cl"].result_list]
    assert names == expected


def test_staff_see_only_their_realms(client, realm, other_realm):
    mine = PersonFactory(realm=realm, first_name="Mine")
    theirs = PersonFactory(realm=other_realm, first_name="Theirs")
    user = StaffUserFactory(permissions=["people.view_person", "people.change_person"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert [p.pk for p in response.context["cl"].result_list] == [mine.pk]
    assert client.get(reverse("admin:people_person_change", args=[theirs.pk])).status_code == 302  # "doesn't exist"
    assert Realm.objects.count() == 2


def test_staff_without_permission_cannot_open_persons(client, realm):
    user = StaffUserFactory()
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 403
    assert User.objects.filter(is_superuser=True).count() == 0


def test_realm_key_is_never_shown_again(admin_client):
    realm = Realm.objects.create(name="Keyed", slug="keyed", infobip_api_key="0123456789abcdef-secret-tail")
    html = admin_client.get(reverse("admin:identities_realm_change", args=[realm.pk])).content.decode()
    assert "0123456789abcdef-secret-tail" not in html
    assert "••••••••tail" in html
