"""`make run`'s demo realm is a first day's realm: bootstrap_demo defines what the source document's examples
use, pushes its persons through the outbox, and every curl example of the README works against it."""

from __future__ import annotations

import io
import json
import re
import shlex
import unicodedata
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from identities.management.commands import bootstrap_demo
from identities.models import Identity, Realm
from infobip.models import OutboxEntry
from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
from people.models import CustomAttributeDefinition, DuplicateCandidate, EventDefinition, Person, PersonEmail
from tests.api_support import api_client
from tests.infobip.conftest import drain_all

pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"


def readme_examples() -> list[tuple[str, str, str, dict, str | None]]:
    """(title, method, url, headers, body) of each curl command of the README's demo section, in order."""
    text = README.read_text()
    section = text[text.index("## The demo realm") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    examples, title = [], ""
    for chunk in re.split(r"\n(?=# \d+\. |curl )", block):
        if chunk.startswith("# "):
            title, _, chunk = chunk.partition("\n")
        if not chunk.startswith("curl "):
            continue
        words = shlex.split(chunk.replace("\\\n", " "))
        method, url, headers, body = "GET", "", {}, None
        words = iter(words[1:])
        for word in words:
            if word == "--request":
                method = next(words)
            elif word == "--header":
                name, _, value = next(words).partition(": ")
                headers[name.lower()] = value
            elif word == "--data-raw":
                body = next(words)
            elif word.startswith("$API"):
                url = word
        examples.append((title, method, url, headers, body))
    return examples


def bootstrap(monkeypatch, tmp_path, sandbox_url) -> tuple[str, str]:
    monkeypatch.setattr(bootstrap_demo, "CREDENTIALS", tmp_path / "demo-credentials.json")
    with connection.cursor() as cursor:  # a new database: the demo's companies are the first ones (Acme is 3)
        cursor.execute("SELECT setval(pg_get_serial_sequence('companies_company', 'id'), 1, false)")
    out = io.StringIO()
    call_command(
        "bootstrap_demo", sandbox_url=sandbox_url, sandbox_key=SANDBOX_API_KEY, host="127.0.0.1", port=8300,
        stdout=out,
    )  # fmt: skip
    return out.getvalue(), json.loads((tmp_path / "demo-credentials.json").read_text())["api_key"]


@pytest.fixture
def quiet_outbox(infobip_settings):
    infobip_settings.INFOBIP_OUTBOX_AUTODRAIN = False
    infobip_settings.INFOBIP_BACKOFF = 0.002
    infobip_settings.INFOBIP_OUTBOX_BACKOFF_BASE = 0.01
    infobip_settings.INFOBIP_OUTBOX_BACKOFF_CAP = 0.05
    return infobip_settings


def test_the_demo_realm_defines_the_examples_and_pushes_its_persons(monkeypatch, tmp_path, quiet_outbox,
                                                                     infobip_sandbox):  # fmt: skip
    printed, _ = bootstrap(monkeypatch, tmp_path, infobip_sandbox.url)
    assert "http://127.0.0.1:8300/admin/" in printed
    assert "http://127.0.0.1:8300/v1/docs/" in printed
    assert ":8000" not in printed
    demo = Realm.objects.get(name="Demo")
    definitions = {d.name: d for d in CustomAttributeDefinition.objects.filter(realm=demo)}
    assert {name: d.data_type for name, d in definitions.items()} == {
        "Contract Expiry": "DATE", "Company": "STRING", "ShoppingCartList": "LIST_OF_OBJECTS",
    }  # fmt: skip
    assert set(definitions["ShoppingCartList"].object_schema) == {
        "productName", "productPrice", "productCategory", "productImage",
    }  # fmt: skip
    add_to_cart = EventDefinition.objects.get(realm=demo, definition_id="addToCart")
    assert [f["name"] for f in add_to_cart.fields] == [
        "itemName", "itemId", "price", "quantity", "fromPromoCampaign", "inStockSince", "category",
    ]  # fmt: skip

    persons = Person.objects.filter(realm=demo)
    assert persons.count() == 39
    assert set(persons.values_list("sync_status", flat=True)) == {"pending"}  # nothing "In sync" unpushed
    assert OutboxEntry.objects.filter(realm=demo, entity="person", op="create").count() == 39
    assert DuplicateCandidate.objects.filter(person_a__realm=demo).count() >= 3
    assert Identity.objects.filter(realm=demo, person__isnull=False).count() == 36  # the duplicates have none
    for address in PersonEmail.objects.filter(realm=demo).values_list("address", flat=True):
        local = address.split("@")[0]
        assert unicodedata.normalize("NFKD", local).isascii(), address

    drain_all()
    assert set(persons.values_list("sync_status", flat=True)) == {"synced"}
    assert persons.filter(infobip_id__isnull=True).count() == 0
    assert len(infobip_sandbox.store.persons) == 39

    again, _ = bootstrap(monkeypatch, tmp_path, infobip_sandbox.url)  # a second make run adds nothing
    assert persons.count() == 39
    assert again == printed


def test_every_curl_example_of_the_readme_works_on_the_demo_realm(monkeypatch, tmp_path, quiet_outbox,
                                                                   infobip_sandbox):  # fmt: skip
    _, key = bootstrap(monkeypatch, tmp_path, infobip_sandbox.url)
    examples = readme_examples()
    assert len(examples) == 17
    client = api_client()
    names: dict[str, str] = {"API": "", "KEY": key}
    answers = {}
    for title, method, url, headers, body in examples:
        path = re.sub(r"\$(\w+)", lambda m: str(names[m.group(1)]), url)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": re.sub(r"\$(\w+)", lambda m: names[m.group(1)], v)
                 for k, v in headers.items() if k != "content-type"}  # fmt: skip
        response = client.generic(method, path, body or "", content_type="application/json", **extra)
        assert 200 <= response.status_code < 300, (title, response.status_code, response.content[:500])
        answer = response.json() if response.content else None
        answers[title.removeprefix("# ").split(".")[0]] = answer
        if method == "POST" and path == "/v1/identities/company":
            names["COMPANY"] = str(answer["id"])
        if method == "POST" and path == "/v1/identities/person":
            names["ID"], names["PERSON"] = answer["id"], str(answer["person"]["id"])

    created = answers["2"]
    assert created["company"] == "3"
    assert created["person"]["customAttributes"]["ShoppingCartList"][1]["productImage"] == "/image2.png"
    assert created["person"]["contactInformation"]["email"] == []  # the empty address was skipped
    assert answers["4"]["person"]["city"] == "Manchester"
    assert answers["5"]["definitionId"] == "addToCart"
    assert answers["9"]["company"]["name"] == "Acme"
    assert answers["11"]["customerStage"] == "Inactive"
    assert Identity.objects.get(pk=names["ID"]).person.first_name == "Jane"
