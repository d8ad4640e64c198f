"""Validate sandbox responses against Infobip's OpenAPI spec (JSON Schema 2020-12, components resolved).

The spec is Infobip's generated ``infobip-people-openapi.json`` (a copy ships beside this module).
A handful of errata are applied before validating, each one a place where the spec contradicts its
own examples (documented in README.md, "Spec errata"):

1. ``additionalProperties: {"type": "object"}`` (a Java ``Map<String, Object>``) on customAttributes,
   systemData, event properties… is read as "any value": the spec's own examples put strings there.
2. v3 upsert/merge 207: ``errors`` and ``results`` are typed as objects but every example is an array.
3. ``ErrorCodeV3`` is a string enum but every example uses numbers: both are accepted.
4. ``EventDefinitionResource.category``/``subcategory`` are ``{"type": "null", "allOf": [<enum>]}``, which
   nothing satisfies: read as "null or the enum".
5. ``GET /people/2/persons`` without an identifier returns a list; the spec only has the single person
   schema. A body with ``persons`` is validated against ``{"persons": [IamPersonV2], limit, page, orderBy,
   totalCount}`` (an ``if``/``then``/``else`` in the response schema).
6. ``GET /people/2/tags`` is an array in the spec; the sandbox's default envelope
   ``{"tags": [IamTagV2], limit, page, orderBy, totalCount}`` is validated as such when the body is an object.
7. Gateway errors (401, 403, 429, 500, 503: auth, throttling, injected faults) are the classic
   ``ApiException`` on every endpoint, also where an operation does not list that status.
8. ``GET /peopleevents/2/definitions`` and ``GET /peopleevents/2/definitions/{definitionId}`` answer 400 to a
   malformed query parameter (``limit=-1``) although only their POST siblings declare a 400.
9. Deletes whose 200 declares a bare ``{"type": "string"}`` body (tags, a tag's persons, custom attributes)
   answer an empty body, like every other delete: the declared content is dropped.

``schemathesis_spec()`` is the spec with these errata: the document the schemathesis run tests the
sandbox against (``tests/infobip/test_conformance.py``).
"""

from __future__ import annotations

import copy
import json
from functools import cached_property
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("infobip-people-openapi.json")
SPEC_ID = "urn:infobip-people-openapi"
GATEWAY_STATUSES = (401, 403, 429, 500, 503)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _schema_name(spec: dict[str, Any], suffix: str) -> str:
    return next(name for name in spec["components"]["schemas"] if name.split(".")[-1] == suffix)


def _walk(node: Any, visit: Any) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def apply_errata(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)

    def any_map(node: dict[str, Any]) -> None:
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "object" and "properties" not in extra:
            node["additionalProperties"] = {}

    _walk(spec, any_map)
    schemas = spec["components"]["schemas"]
    for path in ("/people/3/persons/merge", "/people/3/persons/upsert"):
        for op in spec["paths"][path].values():
            if not isinstance(op, dict) or "207" not in op.get("responses", {}):
                continue
            schema = op["responses"]["207"]["content"]["application/json"]["schema"]
            for key in ("errors", "results"):
                prop = schema["properties"][key]
                if prop.get("type") != "array":
                    schema["properties"][key] = {"type": "array", "items": prop}
    code = schemas[_schema_name(spec, "ErrorCodeV3")]
    values = code.pop("enum")
    code.pop("type", None)
    code["anyOf"] = [{"type": "string", "enum": values}, {"type": "integer", "enum": [int(v) for v in values]}]
    definition = schemas[_schema_name(spec, "EventDefinitionResource")]
    for key in ("category", "subcategory"):
        prop = definition["properties"][key]
        if prop.get("type") == "null":
            prop.pop("type")
            prop["anyOf"] = [{"type": "null"}, {"allOf": prop.pop("allOf")}]
    _list_errata(spec)
    for op in (op for ops in spec["paths"].values() for op in ops.values() if isinstance(op, dict)):
        ok = op.get("responses", {}).get("200", {})
        schemas_of_200 = [media.get("schema") for media in (ok.get("content") or {}).values()]
        if schemas_of_200 and all(schema == {"type": "string"} for schema in schemas_of_200):
            del ok["content"]
    return spec


def _list_errata(spec: dict[str, Any]) -> None:
    """Errata 5, 6 and 8: the list envelopes as alternatives of the declared 200s, the undeclared 400s."""
    schemas = spec["components"]["schemas"]
    person = f"#/components/schemas/{_schema_name(spec, 'IamPersonV2')}"
    tag = f"#/components/schemas/{_schema_name(spec, 'IamTagV2')}"
    paging = {
        "limit": {"type": "integer"},
        "page": {"type": "integer"},
        "orderBy": {"type": "string"},
        "totalCount": {"type": "integer"},
    }
    schemas["SandboxPersonsList"] = {
        "type": "object",
        "required": ["persons", "limit", "page"],
        "properties": {"persons": {"type": "array", "items": {"$ref": person}}, **paging},
    }
    schemas["SandboxTagsList"] = {
        "type": "object",
        "required": ["tags", "limit", "page"],
        "properties": {"tags": {"type": "array", "items": {"$ref": tag}}, **paging},
    }
    alternatives = {
        "/people/2/persons": ({"type": "object", "required": ["persons"]}, "SandboxPersonsList"),
        "/people/2/tags": ({"type": "object"}, "SandboxTagsList"),
    }
    for template, (condition, name) in alternatives.items():
        content = spec["paths"][template]["get"]["responses"]["200"]["content"]
        for media in content.values():
            media["schema"] = {
                "if": condition,
                "then": {"$ref": f"#/components/schemas/{name}"},
                "else": media["schema"],
            }
    declared = spec["paths"]["/peopleevents/2/definitions"]["post"]["responses"]["400"]
    for template in ("/peopleevents/2/definitions", "/peopleevents/2/definitions/{definitionId}"):
        spec["paths"][template]["get"]["responses"].setdefault("400", copy.deepcopy(declared))


def schemathesis_spec() -> dict[str, Any]:
    """Infobip's spec with the errata above, as a standalone OpenAPI document for schemathesis."""
    return apply_errata(json.loads(SPEC_PATH.read_text()))


class Conformance:
    """``check(method, template, status, body)`` -> list of violations (empty when conformant)."""

    def __init__(self, spec: dict[str, Any] | None = None, *, errata: bool = True) -> None:
        if spec is None:
            spec = json.loads(SPEC_PATH.read_text())
        self.raw = spec
        self.spec = apply_errata(spec) if errata else copy.deepcopy(spec)
        self.spec["$id"] = SPEC_ID

    @cached_property
    def registry(self) -> Any:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        return Registry().with_resource(SPEC_ID, resource)

    def _validator(self, pointer: str) -> Any:
        from jsonschema import Draft202012Validator

        return Draft202012Validator({"$ref": f"{SPEC_ID}#{pointer}"}, registry=self.registry)

    def response_pointer(self, method: str, template: str, status: int) -> tuple[str | None, str | None]:
        """(JSON pointer of the response object, problem) for a status of an operation."""
        op = self.spec["paths"].get(template, {}).get(method.lower())
        if op is None:
            return None, f"{method} {template} is not in the spec"
        responses = op.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{_escape(key)}"
                response = responses[key]
                if "$ref" in response:
                    pointer = response["$ref"].lstrip("#")
                return pointer, None
        return None, f"{method} {template}: status {status} is not declared (declared: {', '.join(responses)})"

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.spec
        for token in pointer.strip("/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node

    def check(self, method: str, template: str, status: int, body: bytes | str | None) -> list[str]:
        where = f"{method} {template} -> {status}"
        pointer, problem = self.response_pointer(method, template, status)
        if problem and status in GATEWAY_STATUSES and template in self.spec["paths"]:
            pointer, problem = "/components/responses/ApiException500", None
        if problem:
            return [problem]
        assert pointer is not None
        response = self._resolve(pointer)
        content = response.get("content") or {}
        text = body.decode() if isinstance(body, bytes) else (body or "")
        media = next((ct for ct in ("application/json", "text/json", "*/*") if ct in content), None)
        if media is None and content:
            media = next(iter(content))
        schema = content.get(media, {}).get("schema") if media else None
        if not text.strip():
            if schema is None or schema.get("type") == "string" or not content:
                return []
            return [f"{where}: empty body where the spec declares a {media} body"]
        if schema is None:
            return []  # declared without a schema: any body
        try:
            value = json.loads(text)
        except ValueError:
            return [f"{where}: body is not JSON: {text[:80]!r}"]
        schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
        errors = sorted(self._validator(schema_pointer).iter_errors(value), key=lambda e: list(e.absolute_path))
        return [f"{where}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors[:5]]

    def check_all(self, entries: list[tuple[str, str, int, str, bytes]]) -> list[str]:
        problems: list[str] = []
        for method, template, status, _content_type, body in entries:
            problems += self.check(method, template, status, body)
        return problems
