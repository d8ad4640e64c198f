"""The API's JSON parser: bounded size and depth, and only strings PostgreSQL can store.

Every refusal is a 400 naming the field (`data.fields`), or a 413 for a body over API_MAX_BODY_BYTES.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from core.errors import ValidationError

MAX_DEPTH = 32
MSG_NUL = "must not contain NUL (\\u0000) characters"
MSG_SURROGATE = "contains a lone surrogate ({code}), which is not a character; send valid UTF-8 text"
MSG_TOO_LARGE = "The request body is larger than {limit:,} bytes (API_MAX_BODY_BYTES)."


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def body_limit() -> int:
    return settings.API_MAX_BODY_BYTES


class _BoundedStream:
    """Reads the body up to the limit; one byte more is a 413 (a lying or missing Content-Length included)."""

    def __init__(self, stream, limit: int):
        self.stream, self.limit = stream, limit

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(self.limit + 1)
        if len(data) > self.limit:
            raise PayloadTooLarge(MSG_TOO_LARGE.format(limit=self.limit))
        return data


class StrictJSONParser(JSONParser):
    """JSON only, no NaN/Infinity (DRF already refuses them), no NUL characters or lone surrogates (PostgreSQL
    cannot store them), a bounded nesting depth and body size, so no input reaches the services that the
    database would choke on."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(_BoundedStream(stream, body_limit()), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        check_json_value(data)
        return data


def bad_text(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return MSG_NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return MSG_SURROGATE.format(code=f"\\u{ord(value[exc.start]):04x}")
    return None


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_json_value(data, *, root: str = "") -> None:
    """Refuse a nesting deeper than MAX_DEPTH, and NUL or lone surrogates in any string or key, naming the
    field as the API does (`person.firstName`, `tags[0]`)."""
    stack = [(data, 0, root)]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            if reason := bad_text(value):
                raise ValidationError.single(path or "body", reason)
        elif isinstance(value, dict):
            for key, item in value.items():
                if reason := bad_text(key):
                    raise ValidationError.single(_path(path, safe_text(key)), "(the key) " + reason)
                stack.append((item, depth + 1, _path(path, key)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, _path(path, index)) for index, item in enumerate(value))


def safe_text(value: str) -> str:
    """`value` with NULs and lone surrogates replaced, fit to be echoed in an error message."""
    return "".join("\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in value)
