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
