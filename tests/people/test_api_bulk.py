"""POST /v1/identities/persons/batch (a result per item, each item whole or not at all) and
GET /v1/identities/persons/export (streamed CSV/XLSX/JSON lines, formula-safe)."""

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from infobip.models import OutboxEntry
from people.batch import BATCH_MAX
from people.export import HEADERS
from people.models import Person, PersonEmail, Tag
from tests.companies.factories import CompanyFactory
from tests.people.factories import PersonFactory

BATCH = "/v1/identities/persons/batch"
EXPORT = "/v1/identities/persons/export"


def test_a_batch_answers_207_with_a_result_per_item(api, realm, other_realm):
    realm.cdp_enabled = True
    realm.save(update_fields=["cdp_enabled"])
    jane = PersonFactory(realm=realm, city="London", emails=["jane@example.com"])
    foreign = PersonFactory(realm=other_realm)
    company = CompanyFactory(realm=realm)
    items = [
        {"firstName": "Ann", "contactInformation": {"email": [{"address": "ann@example.com"}]}, "tags": ["New"]},
        {"id": jane.pk, "city": "Manchester", "company": str(company.pk)},
        # valid contacts and tags, then a taken email: nothing of this item is written
        {"firstName": "Bob", "tags": ["Half"], "contactInformation": {"email": [{"address": "JANE@example.com"}]}},
        {"id": foreign.pk, "city": "Nowhere"},
        {"firstName": "Cy", "nickname": "c"},
        "not an object",
    ]
    response = api.post(BATCH, {"persons": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert response.status_code == 207, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 200, 400, 404, 400, 400]
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 4)
    assert body["results"][0]["person"]["tags"] == ["New"]
    assert body["results"][1]["person"]["city"] == "Manchester"
    assert body["results"][2]["error"]["name"] == "ValidationError"
    assert "contactInformation.email" in body["results"][2]["error"]["data"]["fields"]
    assert set(Person.objects.filter(realm=realm).values_list("first_name", flat=True)) == {"Ann", jane.first_name}
    assert not Tag.objects.filter(realm=realm, name="Half").exists()
    jane.refresh_from_db(), foreign.refresh_from_db()
    assert (jane.city, jane.company_id, foreign.city) == ("Manchester", company.pk, foreign.city)
    assert OutboxEntry.objects.filter(entity="person").count() == 2  # the create and the update only

    replay = api.post(BATCH, {"persons": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (207, "true")
    assert Person.objects.filter(realm=realm).count() == 2


def test_a_batch_is_bounded(api):
    response = api.post(BATCH, {"persons": [{}] * (BATCH_MAX + 1)}, format="json")
    assert response.status_code == 400
    assert api.post(BATCH, {"persons": []}, format="json").status_code == 400
    assert api.post(BATCH, {"people": [{}]}, format="json").status_code == 400


def test_another_realms_person_is_not_found_in_a_batch(other_api, realm):
    jane = PersonFactory(realm=realm, city="London")
    response = other_api.post(BATCH, {"persons": [{"id": jane.pk, "city": "Paris"}]}, format="json")
    assert [r["status"] for r in response.json()["results"]] == [404]
    jane.refresh_from_db()
    assert jane.city == "London"


@pytest.fixture
def crowd(realm, other_realm):
    PersonFactory(realm=realm, first_name="+Al", last_name="-1+2", address='=HYPERLINK("http://x")', emails=["a@x.hr"])
    PersonFactory(realm=realm, first_name="Ann", last_name="@SUM", tags=["VIP", "Old"], phones=["385991234567"])
    PersonFactory(realm=realm, first_name="Bob", city="\tTab")
    PersonFactory(realm=other_realm, first_name="Foreign")


def streamed(response) -> bytes:
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_csv_export_is_formula_safe_and_realm_scoped(api, crowd):
    response = api.get(EXPORT + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(streamed(response).decode("utf-8-sig"))))
    assert [row["firstName"] for row in table] == ["'+Al", "Ann", "Bob"]
    assert table[0]["address"] == '\'=HYPERLINK("http://x")'
    assert [row["lastName"] for row in table][:2] == ["'-1+2", "'@SUM"]
    assert table[2]["city"] == "'\tTab"
    assert sorted(table[1]["tags"].split("; ")) == ["Old", "VIP"]
    assert (table[0]["emails"], table[1]["phones"]) == ("a@x.hr", "385991234567")


def test_filtered_jsonl_and_xlsx_exports(api, crowd):
    lines = streamed(api.get(EXPORT + "?format=jsonl&" + "filter=" + json.dumps({"firstName": "Ann"})))
    records = [json.loads(line) for line in lines.splitlines()]
    assert [(r["firstName"], sorted(r["tags"])) for r in records] == [("Ann", ["Old", "VIP"])]

    workbook = load_workbook(io.BytesIO(streamed(api.get(EXPORT + "?format=xlsx"))), read_only=True)
    sheet = list(workbook.active.iter_rows(values_only=True))
    assert sheet[0][:4] == ("id", "externalId", "type", "firstName")
    assert [row[3] for row in sheet[1:]] == ["'+Al", "Ann", "Bob"]
    assert sheet[1][HEADERS.index("address")] == '\'=HYPERLINK("http://x")'


def test_export_errors_are_the_json_envelope(api, other_api, crowd):
    response = api.get(EXPORT + "?format=pdf")
    assert (response.status_code, response.json()["data"]["fields"].keys()) == (400, {"format"})
    assert api.get(EXPORT + "?filter=notjson").status_code == 400
    lines = streamed(other_api.get(EXPORT + "?format=jsonl")).splitlines()
    assert [json.loads(line)["firstName"] for line in lines] == ["Foreign"]


def test_export_reads_in_chunks_with_a_fixed_number_of_statements(api, realm, django_assert_max_num_queries):
    for n in range(30):
        PersonFactory(realm=realm, emails=[f"p{n}@example.com"])
    assert PersonEmail.objects.count() == 30
    with django_assert_max_num_queries(6):
        assert len(streamed(api.get(EXPORT + "?format=jsonl")).splitlines()) == 30


def test_the_csv_postgresql_writes_is_the_python_writers(api, realm, crowd):
    """The SQL-formatted CSV (COPY) has the cells of people.export's Python writer, row for row."""
    from people.export import csv_copy_stream, csv_stream, export_rows_of
    from people.models import CustomAttributeDefinition, Person

    CustomAttributeDefinition.objects.create(realm=realm, name="Store", data_type="STRING")
    Person.objects.filter(first_name="Ann").update(
        custom_attributes={
            "Store": 'Zagreb, "Main"',
            "a": 1,
            "Zz": True,
            "ćevapi": None,
            "Orders": [{"sku": "A-1", "qty": 2.5, "x": "\n"}],
        }
    )
    PersonFactory(realm=realm, first_name="Eve", birth_date="1990-02-03", external_id="=ext", middle_name="")
    persons = Person.objects.filter(realm=realm)
    ours = list(csv.reader(io.StringIO(b"".join(csv_copy_stream(persons)).decode("utf-8-sig"))))
    reference = list(csv.reader(io.StringIO("".join(csv_stream(export_rows_of(persons))).lstrip("\ufeff"))))
    assert len(ours) == 5
    assert ours == reference
