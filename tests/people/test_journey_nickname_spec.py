"""Our nickname is Infobip's `nickName` as the People API spec spells it (PersonV3, ≤ 50), in the client's field
names and the sandbox's contract alike. The spec's v2 person (IamPersonV2) has no nickName: see the README."""

import json
from pathlib import Path

from infobip.sandbox.store import contract
from people.fields import API_NAME
from people.models import NICK_NAME_MAX

SPEC = Path(__file__).resolve().parents[2] / "infobip" / "sandbox" / "infobip-people-openapi.json"


def _schema(name: str) -> dict:
    schemas = json.loads(SPEC.read_text())["components"]["schemas"]
    return next(value for key, value in schemas.items() if key.rsplit(".", 1)[-1] == name)


def test_the_nickname_is_spelled_and_bounded_as_in_the_spec():
    field = _schema("PersonV3")["properties"]["nickName"]
    assert (API_NAME["nick_name"], field["maxLength"]) == ("nickName", NICK_NAME_MAX)
    assert "nickName" in _schema("UpsertPersonV3DocsSchema")["properties"]
    assert contract.NAME_FIELDS[-1] == "nickName"
    assert "nickName" not in _schema("IamPersonV2")["properties"]  # v2 has none: the push's v2 bodies carry it anyway
