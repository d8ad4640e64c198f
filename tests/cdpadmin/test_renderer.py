"""The orjson renderer writes what DRF's JSONRenderer writes."""

import datetime as dt
import decimal
import json
import uuid

from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from core.api.renderers import FastJSONRenderer

DATA = {
    "text": 'Jurić ✓ "quoted" </script>',
    "int": 3,
    "float": 25.33,
    "big": 2**70,
    "bool": True,
    "none": None,
    "list": [1, "a", {"nested": [2.5, None]}],
    "when": dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC),
    "day": dt.date(1966, 1, 15),
    "decimal": decimal.Decimal("9.99"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "detail": ErrorDetail("is required", code="required"),
    "lazy": gettext_lazy("Not found."),
    7: "int key",
}


def test_the_same_json_as_drfs_renderer():
    small = {k: v for k, v in DATA.items() if k != "big"}
    assert json.loads(FastJSONRenderer().render(small)) == json.loads(JSONRenderer().render(small))


def test_integers_past_64_bits_fall_back_to_drfs_renderer():
    assert FastJSONRenderer().render(DATA) == JSONRenderer().render(DATA)


def test_empty_body_and_indent():
    assert FastJSONRenderer().render(None) == b""
    pretty = FastJSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert pretty == JSONRenderer().render({"a": 1}, "application/json; indent=2")
