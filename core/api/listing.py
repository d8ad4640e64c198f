"""Infobip's list parameters, shared by every list of the API: `limit` (default 20, 1..1000), `page` (from 1),
`orderBy` (`field:asc|desc`) and `includeTotalCount`; and the list envelope they answer with."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db.models import QuerySet

from core.errors import ErrorCollector

LIMIT_DEFAULT = 20
LIMIT_MAX = 1000
PAGE_MAX = 1_000_000_000  # keeps LIMIT/OFFSET inside PostgreSQL's bigint whatever the caller sends
TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no", ""}


@dataclass(frozen=True)
class ListParams:
    limit: int
    page: int
    order_by: str  # as the caller wrote it (or the default), echoed in the envelope
    ordering: tuple[str, ...]  # Django order_by() arguments
    include_total: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int, errors: ErrorCollector):
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.add(name, f"{raw[:40]!r} is not an integer")
        return default
    if not low <= value <= high:
        errors.add(name, f"must be between {low} and {high}, got {value}")
    return value


def list_params(query: Mapping[str, str], *, order_fields: Mapping[str, str], default_order: str) -> ListParams:
    """Parse the list parameters; `order_fields` maps API field names to model fields. 400 on anything odd."""
    errors = ErrorCollector()
    limit = _int_param(query, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX, errors)
    page = _int_param(query, "page", 1, 1, PAGE_MAX, errors)
    order_by = query.get("orderBy") or default_order
    field, _, direction = order_by.partition(":")
    direction = direction or "asc"
    if field not in order_fields:
        errors.add("orderBy", f"{field[:60]!r} cannot be ordered by; use one of {', '.join(order_fields)}")
    if direction not in ("asc", "desc"):
        errors.add("orderBy", f"direction must be asc or desc, got {direction[:20]!r}")
    raw_total = (query.get("includeTotalCount") or "").lower()
    if raw_total not in TRUE_VALUES | FALSE_VALUES:
        errors.add("includeTotalCount", f"must be true or false, got {raw_total[:20]!r}")
    errors.raise_if_any()
    sign = "-" if direction == "desc" else ""
    model_field = order_fields[field]
    ordering = (f"{sign}{model_field}",) if model_field == "pk" else (f"{sign}{model_field}", f"{sign}pk")
    return ListParams(
        limit=limit,
        page=page,
        order_by=f"{field}:{direction}",
        ordering=ordering,
        include_total=raw_total in TRUE_VALUES,
    )


def paginate(queryset: QuerySet, params: ListParams) -> tuple[list[Any], int | None]:
    """The page's rows (one query plus the queryset's prefetches) and the total when asked for."""
    rows = list(queryset.order_by(*params.ordering)[params.offset : params.offset + params.limit])
    total = queryset.order_by().count() if params.include_total else None
    return rows, total


def list_envelope_json(key: str, rows_json: str, params: ListParams, total: int | None) -> dict[str, Any]:
    """The list envelope around rows already rendered as a JSON array (e.g. by PostgreSQL); the API's renderer
    writes them out as they are."""
    body: dict[str, Any] = {key: orjson.Fragment(rows_json), "limit": params.limit, "page": params.page}
    body["orderBy"] = params.order_by
    if total is not None:
        body["totalCount"] = total
    return body


def list_envelope(
    key: str, rows: Sequence[Any], render: Callable[[Any], Any], params: ListParams, total: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {key: [render(row) for row in rows], "limit": params.limit, "page": params.page}
    body["orderBy"] = params.order_by
    if total is not None:
        body["totalCount"] = total
    return body
