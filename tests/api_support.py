"""Test support of the REST API: a client that checks every response it sees against our OpenAPI document,
and the seed's fixed ids."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache

from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from core.api.views import canonical_path

UNCHECKED = ("/v1/schema/", "/v1/docs/", "/v1/_bench/")


@cache
def openapi_document() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


@cache
def _operations() -> list[tuple[re.Pattern, str, dict]]:
    found = []
    for template, item in openapi_document()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        for method, operation in item.items():
            found.append((pattern, method.upper(), operation))
    return sorted(found, key=lambda entry: entry[0].pattern.count("[^/]+"))  # literal paths win


class UndocumentedResponse(AssertionError):
    pass


def check_against_schema(method: str, path: str, status: int, body) -> None:
    """Raise if (method, path) has no operation, `status` is not documented for it, or `body` does not fit."""
    path = canonical_path(path.split("?", 1)[0])
    if path.startswith(UNCHECKED) or not path.startswith("/v1/"):
        return
    operations = [op for pattern, m, op in _operations() if m == method and pattern.match(path)]
    if not operations:
        if status in (401, 404, 405):  # unknown URL or method: the envelope is still checked below
            schema = openapi_document()["components"]["schemas"]["Error"]
            Draft202012Validator(schema).validate(body)
            return
        raise UndocumentedResponse(f"{method} {path} is not in the OpenAPI document (answered {status})")
    responses = operations[0]["responses"]
    documented = responses.get(str(status)) or responses.get("default")
    if documented is None:
        raise UndocumentedResponse(f"{method} {path} answered {status}, documented: {sorted(responses)}")
    schema = dict(documented["content"]["application/json"]["schema"])
    schema["components"] = openapi_document()["components"]
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
        raise UndocumentedResponse(f"{method} {path} {status} does not fit its schema: {details}")


class SchemaCheckedClient(APIClient):
    """An APIClient whose every /v1/ response must match the OpenAPI document (status and body)."""

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        response = super().generic(method, path, data, content_type, secure=secure, **extra)
        if response.get("Content-Type", "").startswith("application/json"):
            check_against_schema(method.upper(), path, response.status_code, response.json())
        return response


def api_client(key: str | None = None, **headers) -> SchemaCheckedClient:
    if key:
        headers["HTTP_X_API_KEY"] = key
    return SchemaCheckedClient(**headers)


def bump_sequences(minimum: int = 1000) -> None:
    """Let tests use the seed's small literal ids (company 3, person 255) without colliding with new rows."""
    with connection.cursor() as cursor:
        for table in ("companies_company", "people_person"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our table names
                f"GREATEST((SELECT last_value FROM {table}_id_seq), %s))",
                [minimum],
            )


def epoch_ms(value: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
