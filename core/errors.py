"""One base class for domain errors. The API's exception handler maps these to HTTP in exactly one place,
the admin turns them into form errors or messages, the import into per-row reasons."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, data: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.data = data or {}

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    """`fields` maps a field name (the API's spelling, e.g. `firstName`, `contactInformation.phone[0]`) to
    a list of human-readable reasons."""

    status = 400
    code = "validation_error"

    def __init__(self, fields: dict[str, list[str]] | str, *, message: str | None = None, code: str | None = None):
        if isinstance(fields, str):
            fields = {"non_field_errors": [fields]}
        self.fields = {name: list(reasons) for name, reasons in fields.items()}
        if message is None:
            parts = [f"{name}: {'; '.join(reasons)}" for name, reasons in self.fields.items()]
            message = "Invalid input. " + " | ".join(parts)
        super().__init__(message, code=code, data={"fields": self.fields})

    @classmethod
    def single(cls, field: str, reason: str, *, code: str | None = None) -> ValidationError:
        return cls({field: [reason]}, code=code)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class ErrorCollector:
    """Gathers field errors so one call reports every problem of an input, not just the first."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, reason: str) -> None:
        self.fields.setdefault(field, []).append(reason)

    def merge(self, error: ValidationError, prefix: str = "") -> None:
        for name, reasons in error.fields.items():
            key = f"{prefix}{name}" if prefix and name != "non_field_errors" else (prefix.rstrip(".") or name)
            for reason in reasons:
                self.add(key, reason)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)
