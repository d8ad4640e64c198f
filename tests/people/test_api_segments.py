"""Saved segments over REST: a named filter with its live count, and its persons."""

import json

from people.models import Segment
from tests.people.factories import PersonFactory

VIPS = json.dumps({"#and": [{"#contains": {"tags": "VIP"}}, {"city": "Zagreb"}]})


def test_a_segment_is_saved_counted_live_and_lists_its_persons(api, realm):
    ann = PersonFactory(realm=realm, city="Zagreb", tags=["VIP"])
    PersonFactory(realm=realm, city="Split", tags=["VIP"])
    response = api.post("/v1/identities/segments", {"name": "VIPs in Zagreb", "filter": VIPS}, format="json")
    assert response.status_code == 201, response.json()
    segment_id = response.json()["id"]
    assert response.json()["count"] == 1

    bob = PersonFactory(realm=realm, city="Zagreb", tags=["VIP"])
    listed = api.get("/v1/identities/segments").json()["segments"]
    assert [(s["name"], s["count"]) for s in listed] == [("VIPs in Zagreb", 2)]
    persons = api.get(f"/v1/identities/segments/{segment_id}/persons?orderBy=id:asc").json()["persons"]
    assert [p["id"] for p in persons] == [ann.pk, bob.pk]

    assert api.delete(f"/v1/identities/segments/{segment_id}").json() == []
    assert not Segment.objects.exists()


def test_a_segment_needs_a_valid_filter_and_a_free_name(api, realm):
    response = api.post("/v1/identities/segments", {"name": "", "filter": "{bad"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["data"]["fields"]) == {"name", "filter"}
    api.post("/v1/identities/segments", {"name": "All", "filter": VIPS}, format="json")
    response = api.post("/v1/identities/segments", {"name": "all", "filter": VIPS}, format="json")
    assert response.status_code == 400
    assert Segment.objects.count() == 1


def test_another_realms_segment_is_not_found(api, other_api, realm):
    PersonFactory(realm=realm, city="Zagreb", tags=["VIP"])
    segment_id = api.post("/v1/identities/segments", {"name": "V", "filter": VIPS}, format="json").json()["id"]
    assert other_api.get("/v1/identities/segments").json()["segments"] == []
    assert other_api.get(f"/v1/identities/segments/{segment_id}").status_code == 404
    assert other_api.get(f"/v1/identities/segments/{segment_id}/persons").status_code == 404
    assert other_api.delete(f"/v1/identities/segments/{segment_id}").status_code == 404
    assert Segment.objects.count() == 1


def test_a_segment_is_renamed_and_refiltered_with_patch(api, other_api, realm):
    PersonFactory(realm=realm, city="Zagreb", tags=["VIP"])
    PersonFactory(realm=realm, city="Split", tags=["VIP"])
    segment_id = api.post("/v1/identities/segments", {"name": "V", "filter": VIPS}, format="json").json()["id"]
    api.post("/v1/identities/segments", {"name": "Taken", "filter": VIPS}, format="json")

    response = api.patch(f"/v1/identities/segments/{segment_id}", {"name": "All VIPs"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["filter"], response.json()["count"]) == ("All VIPs", VIPS, 1)
    every_vip = '{"#contains": {"tags": "VIP"}}'
    response = api.patch(f"/v1/identities/segments/{segment_id}", {"filter": every_vip}, format="json")
    assert (response.json()["name"], response.json()["count"]) == ("All VIPs", 2)

    assert api.patch(f"/v1/identities/segments/{segment_id}", {"name": "taken"}, format="json").status_code == 400
    bad = api.patch(f"/v1/identities/segments/{segment_id}", {"filter": "{bad"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["data"]["fields"]) == {"filter"}
    unknown = api.patch(f"/v1/identities/segments/{segment_id}", {"colour": 1}, format="json")
    assert unknown.json()["data"]["fields"] == {"colour": ["is not a segment field"]}
    assert other_api.patch(f"/v1/identities/segments/{segment_id}", {"name": "X"}, format="json").status_code == 404
    assert api.get(f"/v1/identities/segments/{segment_id}").json()["filter"] == every_vip


def test_the_export_takes_a_segment(api, other_api, realm):
    zagreb = PersonFactory(realm=realm, city="Zagreb", tags=["VIP"], first_name="Zed")
    PersonFactory(realm=realm, city="Zagreb", first_name="Nobody")
    PersonFactory(realm=realm, city="Split", tags=["VIP"], first_name="Spliter")
    segment_id = api.post("/v1/identities/segments", {"name": "V", "filter": VIPS}, format="json").json()["id"]

    response = api.get(f"/v1/identities/persons/export?format=jsonl&segment={segment_id}")
    assert response.status_code == 200
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["id"] for line in lines] == [zagreb.pk]
    both = api.get(f"/v1/identities/persons/export?format=jsonl&segment={segment_id}&filter=" + '{"firstName": "X"}')
    assert b"".join(both.streaming_content) == b""
    assert api.get("/v1/identities/persons/export?segment=abc").status_code == 400
    assert other_api.get(f"/v1/identities/persons/export?segment={segment_id}").status_code == 404
