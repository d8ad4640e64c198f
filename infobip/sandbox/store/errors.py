"""The store's refusals: each carries the HTTP status and a field -> messages map."""

from __future__ import annotations

from collections.abc import Mapping


class StoreError(Exception):
    """A request the store refuses. ``status`` is the HTTP status; ``errors`` maps field -> messages."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, list[str]] | None = None,
        *,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})
        self.code = code


class Invalid(StoreError):
    def __init__(self, errors: Mapping[str, list[str]], message: str | None = None, *, code: int | None = None):
        if message is None:
            first_field, first_msgs = next(iter(errors.items()))
            message = f"Invalid request: {first_field}: {first_msgs[0]}"
        super().__init__(400, message, errors, code=code)


class NotFound(StoreError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Duplicate(StoreError):
    """An identifier already belongs to someone else (single create answers 400, batch items 409)."""

    def __init__(self, message: str, field_name: str = "") -> None:
        super().__init__(409, message, {field_name: [message]} if field_name else None)
