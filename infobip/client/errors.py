"""The typed failures of Infobip calls, and :func:`parse_error`, which reads every error body family the spec
uses (classic v2, v3, problem+json) and non-JSON bodies into one of them."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any


class InfobipError(Exception):
    """Base of every failure talking to Infobip.

    ``status`` (HTTP status or None when there was no response), ``code`` (messageId / errorCode / v3 or
    problem code, as a string), ``message``, ``details`` (v3 details, problem ``errors``, violations),
    ``field_errors`` (classic ``validationErrors``: field -> messages), ``body`` (the raw body text),
    ``endpoint`` ("METHOD /path/template").
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        field_errors: Mapping[str, list[str]] | None = None,
        body: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.field_errors = dict(field_errors or {})
        self.body = body
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        status = f"{self.status} " if self.status else ""
        code = f"{self.code}: " if self.code else ""
        return f"{status}{code}{self.message}{where}"

    @property
    def transient(self) -> bool:
        return False


class ValidationError(InfobipError):
    """400: the request was refused as invalid."""


class Unauthorized(InfobipError):
    """401: missing or wrong API key."""


class Forbidden(InfobipError):
    """403: the API key lacks a scope."""


class NotFound(InfobipError):
    """404."""


class Conflict(InfobipError):
    """409."""


class AlreadyExists(Conflict, ValidationError):
    """A unique identifier is taken: 409s and 400s whose text says "already exists"."""


class RateLimited(InfobipError):
    """429; ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return True


class ServerError(InfobipError):
    """5xx."""

    @property
    def transient(self) -> bool:
        return True


class Timeout(InfobipError):
    """No response within the timeout (the request may or may not have been processed)."""

    @property
    def transient(self) -> bool:
        return True


class Unreachable(InfobipError):
    """No connection, or the connection dropped before a response (may or may not have been processed)."""

    @property
    def transient(self) -> bool:
        return True


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _error_fields(body: dict[str, Any], text: str) -> tuple[str | None, str, Any, dict[str, list[str]]]:
    """(code, message, details, field_errors) of a JSON error object, whichever body family it is."""
    code: str | None = None
    message = ""
    details: Any = None
    field_errors: dict[str, list[str]] = {}
    service = (body.get("requestError") or {}).get("serviceException") if "requestError" in body else None
    if isinstance(service, dict):  # classic v2 envelope
        code, message = service.get("messageId"), service.get("text") or ""
        raw_errors = service.get("validationErrors") or {}
        if isinstance(raw_errors, dict):
            field_errors = {
                k: [_text_of(m) for m in (v if isinstance(v, list) else [v])] for k, v in raw_errors.items()
            }
        elif isinstance(raw_errors, list):  # seen in third-party reports: [{"propertyPath": ..., "message": ...}]
            for item in raw_errors:
                if isinstance(item, dict):
                    key = item.get("propertyPath") or item.get("property") or item.get("field") or ""
                    field_errors.setdefault(key, []).append(_text_of(item.get("message", item)))
    elif isinstance(body.get("errors"), list) and ("title" in body or "traceId" in body):  # problem details
        details = body["errors"]
        first = details[0] if details and isinstance(details[0], dict) else {}
        code = str(first["code"]) if first.get("code") is not None else None
        message = first.get("message") or body.get("title") or ""
        for item in details:
            for detail in (item.get("details") or []) if isinstance(item, dict) else []:
                field_errors.setdefault(detail.get("property", ""), []).append(detail.get("message", ""))
    elif "errorCode" in body and ("description" in body or "violations" in body):  # new-style ApiError
        code, message = str(body["errorCode"]), body.get("description") or ""
        details = body.get("violations") or []
        for violation in details:
            if isinstance(violation, dict):
                field_errors.setdefault(violation.get("property", ""), []).append(violation.get("violation", ""))
    elif "errorCode" in body:  # push API / lists v3 / third-party observed
        code = str(body["errorCode"])
        message = body.get("errorMessage") or body.get("message") or body.get("description") or ""
        raw = body.get("validationErrors")
        if isinstance(raw, list):
            for item in raw:
                if isinstance(item, dict):
                    key = item.get("propertyPath") or item.get("property") or ""
                    field_errors.setdefault(key, []).append(_text_of(item.get("message", item)))
    elif "code" in body and "message" in body:  # v3 ErrorResponseV3
        code, message = str(body["code"]), body.get("message") or ""
        details = body.get("details")
        for detail in details or []:
            if isinstance(detail, dict):
                field_errors.setdefault(detail.get("property", ""), []).append(detail.get("message", ""))
    elif isinstance(body.get("title"), str):  # problem details without errors
        message = body["title"]
    else:
        message = body.get("message") or body.get("error") or text[:500]
    return code, message, details, field_errors


def parse_error(
    status: int, text: str, headers: Mapping[str, str] | None = None, endpoint: str | None = None
) -> InfobipError:
    """Build the typed error for an HTTP error response, whatever the body family."""
    headers = headers or {}
    code: str | None = None
    message = ""
    details: Any = None
    field_errors: dict[str, list[str]] = {}
    try:
        body = json.loads(text) if text and text.strip() else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        code, message, details, field_errors = _error_fields(body, text)
    elif body is not None:
        message = _text_of(body)[:500]
    else:
        message = (text or "").strip()[:500]
    if not message:
        message = f"HTTP {status} without a body"
    kwargs = {
        "status": status,
        "code": code,
        "details": details,
        "field_errors": field_errors,
        "body": text,
        "endpoint": endpoint,
    }
    haystack = " ".join([message, *(m for msgs in field_errors.values() for m in msgs)]).lower()
    exists = "already exist" in haystack or "duplicate" in haystack
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(headers.get("Retry-After")), **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    if status in (400, 409) and exists:
        return AlreadyExists(message, **kwargs)
    cls = {400: ValidationError, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict}.get(
        status, InfobipError
    )
    return cls(message, **kwargs)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
