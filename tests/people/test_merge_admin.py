"""The staff merge workflow in the admin: action, merge page, preview, confirm, find, suggestions, undo."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django_q.conf import Conf

from people.duplicates import duplicates_rescan
from people.merging import persons_merge
from people.models import DuplicateCandidate, DuplicateScan, MergeRecord, NotDuplicate, Person
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory, aged_person

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:people_person_changelist")
MERGE = reverse("admin:people_person_merge")


person = aged_person


@pytest.fixture
def pair(realm):
    old = person(
        realm, days_old=10, modified_days_ago=5, first_name="Jon", last_name="Smith", city="Zagreb",
        phones=["385991111111"], emails=["jon@x.hr"], tags=["VIP"],
    )  # fmt: skip
    new = person(
        realm, days_old=1, modified_days_ago=1, first_name="John", last_name="Smith", address="Ilica 1",
        phones=["385992222222"], tags=["New"], external_id=None,
    )  # fmt: skip
    return old, new


@pytest.fixture
def staff_without_merge(client, realm):
    user = StaffUserFactory(permissions=["people.view_person", "people.change_person", "people.view_mergerecord"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    return client


def merge_post(old, new, **overrides):
    data = {
        "ids": f"{old.pk},{new.pk}",
        "survivor": str(old.pk),
        "choice__first_name": str(new.pk),
        "phones": ["385991111111", "385992222222"],
        "emails": ["jon@x.hr"],
        "tags": ["VIP", "New"],
        "_preview": "Preview",
    }
    data.update(overrides)
    return data


def test_the_action_opens_the_merge_page(admin_client, pair):
    old, new = pair
    response = admin_client.post(
        CHANGELIST, {"action": "merge_persons", "_selected_action": [old.pk, new.pk], "index": 0}
    )
    assert response.status_code == 302
    assert response.url == f"{MERGE}?ids={old.pk}%2C{new.pk}"


@pytest.mark.parametrize("count", [1, 11])
def test_the_action_refuses_fewer_than_two_or_more_than_ten(admin_client, realm, count):
    ids = [PersonFactory(realm=realm).pk for _ in range(count)]
    response = admin_client.post(
        CHANGELIST, {"action": "merge_persons", "_selected_action": ids, "index": 0}, follow=True
    )
    assert f"Select between 2 and 10 persons to merge (you selected {count})." in response.content.decode()


def test_merge_page_shows_only_conflicts_as_radios_and_single_source_fields_under_show_more(admin_client, pair):
    old, new = pair
    response = admin_client.get(MERGE, {"ids": f"{old.pk},{new.pk}"})
    assert response.status_code == 200
    form = response.context["form"]
    assert [name for name, _ in form.conflict_fields] == ["choice__first_name"]
    assert form["choice__first_name"].initial == new.pk  # most recently modified wins by default
    assert form["survivor"].initial == old.pk  # earliest created
    assert form["phones"].initial == ["385991111111", "385992222222"]
    html = response.content.decode()
    assert 'id="show-more"' in html
    assert "City: Zagreb (person" in html  # the person form's label
    assert "Address: Ilica 1 (person" in html
    assert 'name="choice__city"' not in html


def test_preview_then_confirm_merges_with_the_chosen_values(admin_client, pair):
    old, new = pair
    data = merge_post(old, new, choice__first_name=str(old.pk), tags=["VIP"])
    response = admin_client.post(MERGE, data)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.pk is None
    assert preview.result["attributes"]["first_name"] == "Jon"
    assert "Preview: person" in response.content.decode()
    assert Person.objects.active().count() == 2

    response = admin_client.post(
        MERGE, {**data, "_confirm": "Confirm merge", "preview_token": response.context["preview_token"]}
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:people_person_change", args=[old.pk])
    old.refresh_from_db()
    assert (old.first_name, old.address, old.city) == ("Jon", "Ilica 1", "Zagreb")
    assert sorted(old.tags.values_list("name", flat=True)) == ["VIP"]
    assert Person.objects.get(pk=new.pk).merged_into_id == old.pk
    record = MergeRecord.objects.get()
    log = LogEntry.objects.get(object_id=str(old.pk))
    assert log.get_change_message() == f"Merged person {new.pk} into this person (merge #{record.pk})."
    page = admin_client.get(response.url).content.decode()
    assert f'href="{reverse("admin:people_mergerecord_change", args=[record.pk])}"' in page


def test_confirm_without_a_matching_preview_does_not_merge(admin_client, pair):
    old, new = pair
    response = admin_client.post(MERGE, {**merge_post(old, new), "_confirm": "1", "preview_token": "stale"})
    assert response.status_code == 200
    assert "changed since the preview" in response.content.decode()
    assert MergeRecord.objects.count() == 0


def test_the_page_refuses_when_no_contact_is_kept(admin_client, pair):
    old, new = pair
    response = admin_client.post(MERGE, merge_post(old, new, phones=[], emails=[]))
    assert response.status_code == 200
    assert "Keep at least one phone or email" in response.content.decode()
    assert response.context["preview"] is None
    assert Person.objects.active().count() == 2


def test_another_survivor_can_be_chosen(admin_client, pair):
    old, new = pair
    data = merge_post(old, new, survivor=str(new.pk))
    token = admin_client.post(MERGE, data).context["preview_token"]
    admin_client.post(MERGE, {**data, "_confirm": "1", "preview_token": token})
    assert Person.objects.get(pk=old.pk).merged_into_id == new.pk


def test_merge_of_ten_profiles_through_the_page(admin_client, realm):
    people = [person(realm, days_old=20 - i, phones=[f"3859900000{i:02d}"]) for i in range(10)]
    ids = ",".join(str(p.pk) for p in people)
    page = admin_client.get(MERGE, {"ids": ids})
    form = page.context["form"]
    data = {"ids": ids, "survivor": str(people[0].pk), "phones": form["phones"].initial, "_preview": "1"}
    for name, decision in form.conflict_fields:
        data[name] = str(decision.chosen)
    token = admin_client.post(MERGE, data).context["preview_token"]
    admin_client.post(MERGE, {**data, "_confirm": "1", "preview_token": token})
    assert Person.objects.active().count() == 1
    assert people[0].phones.count() == 10


def test_the_merge_page_refuses_persons_of_other_realms_or_already_merged(admin_client, realm, other_realm, pair):
    old, new = pair
    stranger = PersonFactory(realm=other_realm)
    response = admin_client.get(MERGE, {"ids": f"{old.pk},{stranger.pk}"}, follow=True)
    assert "Persons of different realms cannot be merged." in response.content.decode()
    persons_merge(survivor=old, others=[new])
    response = admin_client.get(MERGE, {"ids": f"{old.pk},{new.pk}"}, follow=True)
    assert f"or were already merged: {new.pk}." in response.content.decode()


def test_find_a_profile_to_merge_with(admin_client, realm, pair):
    old, new = pair
    person(realm, days_old=3, first_name="Other", last_name="Body", external_id="CRM-9", emails=["o@x.hr"])
    url = reverse("admin:people_person_merge_find", args=[old.pk])
    page = admin_client.get(reverse("admin:people_person_change", args=[old.pk])).content.decode()
    assert f'href="{url}"' in page
    for term, expected in [("John Smi", [new.pk]), ("+385 99 222 2222", [new.pk]), ("o@x", None), ("CRM-9", None)]:
        results = admin_client.get(url, {"q": term}).context["results"]
        assert len(results) == 1
        if expected:
            assert [p.pk for p in results] == expected
    assert admin_client.get(url, {"q": "Jon"}).context["results"] == []  # never the person itself


def test_person_page_lists_suggested_duplicates_and_remembers_not_a_duplicate(admin_client, realm):
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["jane.doe@x.hr"])
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Doe", emails=["janedoe@x.hr"])
    duplicates_rescan(realm=realm)
    html = admin_client.get(reverse("admin:people_person_change", args=[a.pk])).content.decode()
    assert 'id="duplicate-suggestions"' in html
    assert "similar email (jane.doe@x.hr ~ janedoe@x.hr)" in html
    assert f"{MERGE}?ids={a.pk}%2C{b.pk}" in html
    dismiss = reverse("admin:people_person_not_duplicate", args=[a.pk, b.pk])
    assert f'formaction="{dismiss}"' in html
    response = admin_client.post(dismiss, {"first_name": "ignored: the whole change form comes along"})
    assert response.status_code == 302
    assert NotDuplicate.objects.filter(person_a=a, person_b=b).exists()
    html = admin_client.get(reverse("admin:people_person_change", args=[a.pk])).content.decode()
    assert "No suggestions." in html


def test_an_absorbed_person_shows_it_is_merged_and_links_to_the_survivor(admin_client, realm, pair):
    old, new = pair
    record = persons_merge(survivor=old, others=[new])
    response = admin_client.get(reverse("admin:people_person_change", args=[new.pk]))
    html = response.content.decode()
    assert 'id="merged-alias"' in html
    assert f'href="{reverse("admin:people_person_change", args=[old.pk])}">person {old.pk}</a>' in html
    assert f"merge #{record.pk}" in html
    assert not response.context["has_change_permission"]  # an alias is never edited


def test_merge_record_page_shows_choices_and_snapshots_and_undo_restores(admin_client, pair):
    old, new = pair
    record = persons_merge(survivor=old, others=[new], choices={"first_name": old.pk}, actor="staff:alice")
    page = admin_client.get(reverse("admin:people_mergerecord_change", args=[record.pk])).content.decode()
    assert f"staff:alice merged person {new.pk} into" in page
    assert 'id="merge-choices"' in page
    assert 'id="merge-snapshots"' in page
    undo_url = reverse("admin:people_mergerecord_undo", args=[record.pk])
    assert f'href="{undo_url}"' in page
    assert "Yes, undo merge" in admin_client.get(undo_url).content.decode()
    response = admin_client.post(undo_url, follow=True)
    assert f"Merge #{record.pk} undone: person {new.pk} is back." in response.content.decode()
    assert Person.objects.active().count() == 2
    assert LogEntry.objects.filter(object_id=str(new.pk), change_message__contains="Restored").exists()


def test_undo_page_explains_what_blocks_it(admin_client, realm, pair):
    old, new = pair
    record = persons_merge(survivor=old, others=[new])
    Person.objects.filter(pk=new.pk).delete()
    undo_url = reverse("admin:people_mergerecord_undo", args=[record.pk])
    html = admin_client.get(undo_url).content.decode()
    assert f"<li>Person {new.pk} was deleted.</li>" in html
    assert "Yes, undo" not in html
    response = admin_client.post(undo_url, follow=True)
    assert "cannot be undone: Person" in response.content.decode()


def test_staff_without_merge_permission_see_no_action_no_button_and_get_403(staff_without_merge, realm, pair):
    client = staff_without_merge
    old, new = pair
    record = persons_merge(survivor=old, others=[new])
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "merge_persons" not in response.content.decode()
    page = client.get(reverse("admin:people_person_change", args=[old.pk])).content.decode()
    assert "Find a profile to merge with" not in page
    assert "Suggested duplicates" not in page
    assert client.get(MERGE, {"ids": f"{old.pk},{new.pk}"}).status_code == 403
    assert client.get(reverse("admin:people_person_merge_find", args=[old.pk])).status_code == 403
    assert client.post(reverse("admin:people_person_not_duplicate", args=[old.pk, new.pk])).status_code == 403
    assert client.get(reverse("admin:people_mergerecord_undo", args=[record.pk])).status_code == 403
    assert client.post(reverse("admin:people_mergerecord_undo", args=[record.pk])).status_code == 403
    assert client.post(reverse("admin:people_duplicatecandidate_rescan"), {"realm": realm.pk}).status_code == 403
    assert (
        "Undo this merge"
        not in client.get(reverse("admin:people_mergerecord_change", args=[record.pk])).content.decode()
    )
    response = client.post(CHANGELIST, {"action": "merge_persons", "_selected_action": [old.pk, new.pk], "index": 0})
    assert response.status_code in (200, 302)
    assert MergeRecord.objects.count() == 1


def test_staff_with_merge_permission_only_in_their_realm(client, realm, other_realm):
    user = StaffUserFactory(permissions=["people.view_person", "people.change_person", "people.merge_person"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    mine = PersonFactory(realm=realm, phones=["385991111111"])
    theirs = [PersonFactory(realm=other_realm, phones=[f"38599222222{n}"]) for n in range(2)]
    assert client.get(MERGE, {"ids": f"{mine.pk},{theirs[0].pk}"}).status_code == 302
    record = persons_merge(survivor=theirs[0], others=[theirs[1]])
    assert client.get(reverse("admin:people_mergerecord_undo", args=[record.pk])).status_code == 404


def test_duplicates_changelist_rescan_button_and_not_a_duplicate_action(
    admin_client, realm, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(Conf, "SYNC", True)
    a = PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    b = PersonFactory(realm=realm, first_name="Jane", last_name="Doe")
    changelist = reverse("admin:people_duplicatecandidate_changelist")
    assert "Rescan Acme" in admin_client.get(changelist).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:people_duplicatecandidate_rescan"), {"realm": realm.pk}, follow=True
        )
    assert "Rescan of Acme queued" in response.content.decode()
    assert DuplicateScan.objects.get().status == "succeeded"
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.person_a_id, candidate.person_b_id) == (a.pk, b.pk)
    admin_client.post(changelist, {"action": "mark_not_duplicate", "_selected_action": [candidate.pk], "index": 0})
    assert DuplicateCandidate.objects.get().status == "dismissed"
    assert NotDuplicate.objects.count() == 1
