"""What every endpoint shares: the three error families, request/response/route types, parameter parsing."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infobip.sandbox import store as st

CLASSIC, V3, PROBLEM = "classic", "v3", "problem"

MESSAGE_IDS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "GENERAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
DEFAULT_TEXTS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests",
    500: "Something went wrong. Please contact support.",
    503: "Service temporarily unavailable. Please try again later.",
}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        family: str = CLASSIC,
        validation_errors: dict[str, list[str]] | None = None,
        code: int | None = None,
        details: list[dict[str, Any]] | None = None,
        problems: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message or DEFAULT_TEXTS.get(status, "Error")
        self.family = family if status not in (401, 403, 429) and status < 500 else CLASSIC
        self.validation_errors = validation_errors
        self.code = code
        self.details = details
        self.problems = problems
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.family == V3:
            body: dict[str, Any] = {"code": self.code or int(f"{self.status}100"), "message": self.message}
            if self.details:
                body["details"] = self.details
            return body
        if self.family == PROBLEM:
            body = {
                "type": PROBLEM_TYPES.get(self.status, PROBLEM_TYPES[400]),
                "title": "One or more validation errors occurred." if self.status == 400 else self.message,
                "status": self.status,
                "traceId": uuid.uuid4().hex,
            }
            if self.problems is not None:
                body["errors"] = self.problems
            elif self.status == 400:
                body["errors"] = [{"index": -1, "code": self.code or 400501, "message": self.message}]
            return body
        exception: dict[str, Any] = {"messageId": MESSAGE_IDS.get(self.status, "ERROR"), "text": self.message}
        if self.validation_errors:
            exception["validationErrors"] = self.validation_errors
        return {"requestError": {"serviceException": exception}}


def from_store_error(exc: st.StoreError, family: str = CLASSIC) -> ApiError:
    status = 400 if isinstance(exc, st.Duplicate) else exc.status  # single writes: duplicates are 400s
    if family == V3:
        details = [{"property": k, "message": m} for k, msgs in exc.errors.items() for m in msgs]
        return ApiError(status, exc.message, family=V3, code=exc.code, details=details or None)
    if family == PROBLEM:
        details = [{"property": k, "message": m} for k, msgs in exc.errors.items() for m in msgs]
        problems = [{"index": -1, "code": 400501, "message": exc.message, **({"details": details} if details else {})}]
        return ApiError(exc.status, exc.message, family=PROBLEM, problems=problems if exc.status == 400 else None)
    return ApiError(status, exc.message, validation_errors=exc.errors or None)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    family: str = CLASSIC
    _json: Any = None
    _parsed: bool = False

    def json(self) -> Any:
        if not self._parsed:
            if not self.body.strip():
                self._json = None
            else:
                try:
                    self._json = json.loads(self.body)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    if self.family == V3:
                        raise ApiError(400, "Malformed JSON body, wrong syntax", family=V3, code=400103) from exc
                    if self.family == PROBLEM:
                        raise ApiError(
                            400,
                            "Invalid request. Please ensure the request body is a properly structured JSON.",
                            family=PROBLEM,
                            problems=[{"index": -1, "code": 400500, "message": f"Invalid JSON: {exc}"}],
                        ) from exc
                    raise ApiError(400, f"Malformed JSON: {exc}") from exc
            self._parsed = True
        return self._json

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object", family=self.family)
        return body


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-encodable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    method: str
    template: str
    handler: Callable[[Request], Response]
    family: str = CLASSIC
    creates: bool = False
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.regex = re.compile(f"^{pattern}/?$")

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        message = f"Parameter '{name}' must be an integer"
        raise ApiError(400, message, validation_errors={name: ["must be an integer"]}) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"Parameter '{name}' must be {bounds}", validation_errors={name: [f"must be {bounds}"]})
    return value


def _order_by(query: dict[str, str], allowed: tuple[str, ...]) -> str | None:
    raw = query.get("orderBy")
    if not raw:
        return None
    name, _, direction = raw.partition(":")
    direction = direction.lower() or "asc"
    if name not in allowed or direction not in ("asc", "desc"):
        message = f"orderBy must be <field>:asc|desc with field one of {', '.join(allowed)}"
        raise ApiError(400, f"Invalid orderBy '{raw}': {message}", validation_errors={"orderBy": [message]})
    return f"{name}:{direction}"


def _items(body: dict[str, Any], key: str, family: str = CLASSIC, limit: int = st.MAX_BATCH) -> list[Any]:
    items = body.get(key)
    if not isinstance(items, list):
        raise ApiError(400, f"'{key}' must be an array", family=family, validation_errors={key: ["must be an array"]})
    if not items:
        raise ApiError(400, f"'{key}' must not be empty", family=family, validation_errors={key: ["must not be empty"]})
    if len(items) > limit:
        message = f"size must be between 1 and {limit}"
        raise ApiError(400, f"'{key}' {message}", family=family, validation_errors={key: [message]})
    return items


def _batch_errors(exc: st.StoreError) -> list[dict[str, str]]:
    if isinstance(exc, st.Duplicate) or not exc.errors:
        return [{"message": exc.message}]
    return [{"message": f"{name}: {msg}"} for name, msgs in exc.errors.items() for msg in msgs]


def batch_response(results: list[dict[str, Any]], failed: bool) -> Response:
    return Response(207 if failed else 200, {"results": results})
