"""The one exception handler of the REST API: every error, ours or DRF's, leaves in one envelope.

    {"name": "ValidationError", "message": "...", "code": 400, "type": "validation_error",
     "data": {"fields": {"firstName": ["contains the forbidden character '#'"]}}}

`code` is the HTTP status (like the seed's `"code": 200` of EventStarted), `type` the machine-readable reason,
`data.fields` the per-field reasons (keyed by the API's field names) when there are any.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.api.parsers import MSG_TOO_LARGE, PayloadTooLarge, body_limit
from core.errors import DomainError

log = logging.getLogger("cdpadmin.api")

DRF_NAMES = {
    drf.NotAuthenticated: ("Unauthorized", "unauthorized"),
    drf.AuthenticationFailed: ("Unauthorized", "unauthorized"),
    drf.PermissionDenied: ("Forbidden", "forbidden"),
    drf.NotFound: ("NotFound", "not_found"),
    drf.MethodNotAllowed: ("MethodNotAllowed", "method_not_allowed"),
    drf.NotAcceptable: ("NotAcceptable", "not_acceptable"),
    drf.UnsupportedMediaType: ("UnsupportedMediaType", "unsupported_media_type"),
    drf.ParseError: ("ParseError", "parse_error"),
    drf.Throttled: ("TooManyRequests", "throttled"),
    PayloadTooLarge: ("PayloadTooLarge", "payload_too_large"),
}


def error_body(*, status: int, name: str, message: str, type_: str, data: dict[str, Any] | None = None) -> dict:
    return {"name": name, "message": message, "code": status, "type": type_, "data": data or {}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail as {"a.b[0]": [reasons]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub, reasons in _flatten(value, name).items():
                fields.setdefault(sub, []).extend(reasons)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for sub, reasons in _flatten(item, f"{prefix}[{index}]").items():
                    fields.setdefault(sub, []).extend(reasons)
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def api_exception_handler(exc: Exception, context: dict) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        status, name, type_, message, data = exc.status, type(exc).__name__, exc.code, exc.message, exc.data
    elif isinstance(exc, drf.ValidationError):
        fields = _flatten(exc.detail)
        parts = [f"{key}: {'; '.join(reasons)}" for key, reasons in fields.items()]
        status, name, type_ = 400, "ValidationError", "validation_error"
        message, data = "Invalid input. " + " | ".join(parts), {"fields": fields}
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: the row was there when the request looked it up, and a concurrent request deleted it.
        status, name, type_, message, data = 404, "NotFound", "not_found", "Not found.", {}
    elif isinstance(exc, DjangoPermissionDenied):
        status, name, type_, message, data = 403, "Forbidden", "forbidden", "Permission denied.", {}
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        name, type_ = next(
            (names for cls, names in DRF_NAMES.items() if isinstance(exc, cls)),
            (type(exc).__name__, str(getattr(exc, "default_code", "error"))),
        )
        message, data = str(exc.detail), {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    elif isinstance(exc, RequestDataTooBig):
        # Django's own guard on reading the body (DATA_UPLOAD_MAX_MEMORY_SIZE, = API_MAX_BODY_BYTES).
        status, name, type_, data = 413, "PayloadTooLarge", "payload_too_large", {}
        message = MSG_TOO_LARGE.format(limit=body_limit())
    elif isinstance(exc, TooManyFieldsSent):
        status, name, type_, data = 400, "ValidationError", "too_many_fields", {}
        message = "The request has more form fields than DATA_UPLOAD_MAX_NUMBER_FIELDS allows."
    elif isinstance(exc, IntegrityError):
        # A concurrent request wrote the same unique value first (the services checked before; this is the race).
        log.info("integrity error reached the API (a race): %s", exc)
        status, name, type_, data = 409, "Conflict", "conflict", {}
        message = "A concurrent change conflicts with this request (the same name or identifier); retry it."
    elif isinstance(exc, DataError):
        # A value the database cannot store (the services validate first; this is the safety net).
        log.warning("data error reached the API: %s", exc)
        status, name, type_ = 400, "ValidationError", "invalid_value"
        message, data = "A value in the request cannot be stored: it is out of range or malformed.", {}
    else:
        log.exception("unhandled error in %s", context.get("view").__class__.__name__ if context else "?")
        status, name, type_, message, data = 500, "InternalError", "internal_error", "Something went wrong.", {}
    return Response(
        error_body(status=status, name=name, message=message, type_=type_, data=data), status, headers=headers
    )
