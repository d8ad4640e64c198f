"""The one client for Infobip's People / Customer Profiles API.

Every call goes through :meth:`InfobipClient._request`, which

* waits for the client-side rate limiter (per account and endpoint, shared across processes),
* always sends a timeout,
* retries only what is safe: 429 always (the request was not processed) honouring ``Retry-After`` or
  else exponential backoff with jitter; 5xx, timeouts and connection errors only for idempotent calls,
* turns every failure into a typed :class:`InfobipError` (``raise … from exc``), parsing every error body
  family the spec uses (CONTRACT-NOTES §1.3) and non-JSON bodies.

Idempotent calls: GET, PUT, DELETE and PATCH. PATCH counts as safe to repeat because Infobip's PATCH
semantics converge: scalars are overwritten with the same values, and tags, emails, phones and company
domains are *appended as sets* (a value already present is not added twice), so sending the same PATCH
twice leaves the same profile as sending it once. A few POSTs are also safe: ``/persons/match`` (a read),
definition updates (``POST /peopleevents/2/definitions/{id}``, the same update twice is the same
update), v3 merge (request data overrides, so a repeat converges), single events with an ``eventId`` and
batch events whose items all carry one (Infobip de-duplicates by ``eventId``; the client generates
one when the caller gives none).

Creates are made safe instead of being blindly retried: after a transient failure
``create_person`` looks the person up by externalId (then email, then phone) before sending again and
returns the existing person if the first attempt had in fact succeeded; tag, custom attribute, company
and event definition creates do the same by name / id.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from infobip.hosts import check_base_url, realm_credentials

logger = logging.getLogger(__name__)

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "InfobipClient",
    "InfobipError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Timeout",
    "Unauthorized",
    "Unreachable",
    "ValidationError",
    "client_for_realm",
    "parse_error",
]

Json = dict[str, Any]
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
MAX_BATCH = 1000
MAX_EVENT_BATCH = 5000


class RateLimiter(Protocol):
    """What the client needs from a limiter (implementations: :mod:`infobip.ratelimit`)."""

    def acquire(self, endpoint: str) -> float: ...


class _NoLimit:
    def acquire(self, endpoint: str) -> float:
        return 0.0


def scope_for(base_url: str, api_key: str) -> str:
    """A stable, non-secret name for one Infobip account (limits are per account)."""
    return hashlib.sha256(f"{base_url.rstrip('/')}|{api_key}".encode()).hexdigest()[:16]


# --- errors ------------------------------------------------------------------------------------------


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


# --- the client --------------------------------------------------------------------------------------


class InfobipClient:
    """A client for one Infobip account (base URL + API key) with one keep-alive ``requests.Session``.

    ``rate_limiter``: any object with ``acquire(endpoint)`` (see :mod:`infobip.ratelimit`); default none.
    ``max_retries``: retries after the first attempt for transient failures. ``backoff`` / ``backoff_cap``:
    base and cap (seconds) of the exponential backoff with jitter; ``max_retry_after`` caps a server's
    Retry-After. ``sleep`` is injectable so tests can observe waits.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | tuple[float, float] = 10.0,
        rate_limiter: RateLimiter | None = None,
        max_retries: int = 4,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        pool_size: int = 10,
    ) -> None:
        if not base_url:
            raise ValueError("Infobip base URL is not configured")
        if not api_key:
            raise ValueError("Infobip API key is not configured")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.rate_limiter: RateLimiter = rate_limiter or _NoLimit()
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.scope = scope_for(self.base_url, api_key)
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"App {api_key}",
                "Accept": "application/json",
                "User-Agent": "cdpadmin-infobip-client/1.0",
            }
        )
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"<InfobipClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    # ----- transport -----

    def _backoff_delay(self, attempt: int, error: InfobipError) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        ceiling = min(self.backoff_cap, self.backoff * (2**attempt))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)  # "equal jitter"

    def _send_once(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        body: Any,
    ) -> requests.Response:
        check_base_url(url)  # infobip.hosts: the key never goes to a host outside INFOBIP_ALLOWED_HOSTS
        self.rate_limiter.acquire(endpoint)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            response = self.session.request(
                method, url, params=params, data=data, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise Timeout(f"no response within {self.timeout}s", endpoint=endpoint) from exc
        except requests.ConnectionError as exc:
            raise Unreachable(f"connection failed: {exc}", endpoint=endpoint) from exc
        except requests.RequestException as exc:
            raise Unreachable(f"request failed: {exc}", endpoint=endpoint) from exc
        if response.status_code >= 300:  # a redirect is not followed (the key stays with its host): an error
            raise parse_error(response.status_code, response.text, response.headers, endpoint)
        return response

    def _request(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        retries: int | None = None,
    ) -> Any:
        """Send one logical call; returns the decoded JSON body (None when empty)."""
        endpoint = f"{method} {template}"
        path = template.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        url = self.base_url + path
        params = {k: v for k, v in (params or {}).items() if v is not None}
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        budget = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                response = self._send_once(method, url, endpoint, params, json_body)
            except InfobipError as error:
                retryable = isinstance(error, RateLimited) or (safe and error.transient)
                if not retryable or attempt >= budget:
                    raise
                delay = self._backoff_delay(attempt, error)
                logger.info("Infobip %s failed (%s); retry %d in %.2fs", endpoint, error, attempt + 1, delay)
                attempt += 1
                self.sleep(delay)
                continue
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise InfobipError(
                    f"response is not JSON: {response.text[:200]!r}",
                    status=response.status_code,
                    body=response.text,
                    endpoint=endpoint,
                ) from exc

    def _create_safely(self, create: Callable[[], Any], lookup: Callable[[], Any | None]) -> Any:
        """Run a non-idempotent create; after a transient failure, look before creating again."""
        attempt = 0
        while True:
            try:
                return create()
            except AlreadyExists:
                if attempt == 0:
                    raise
                existing = lookup()  # our earlier attempt went through after all
                if existing is None:
                    raise
                return existing
            except InfobipError as error:
                if not error.transient or attempt >= self.max_retries:
                    raise
                delay = self._backoff_delay(attempt, error)
                attempt += 1
                self.sleep(delay)
                if isinstance(error, RateLimited):
                    continue  # 429: nothing was processed
                try:
                    existing = lookup()
                except InfobipError as lookup_error:
                    if not lookup_error.transient:
                        raise
                    existing = None
                if existing is not None:
                    logger.info("Infobip create had succeeded before the failure; using the existing record")
                    return existing

    @staticmethod
    def _query(type_: str, identifier: Any, sender: str | None) -> dict[str, Any]:
        return {"type": type_, "identifier": str(identifier), "sender": sender}

    # ----- persons -----

    def get_person(self, type: str, identifier: Any, *, sender: str | None = None) -> Json:
        """One person by identifier (``type`` = ID, EXTERNAL_ID, EMAIL, PHONE, PUSH, ...). Raises NotFound."""
        return self._request("GET", "/people/2/persons", params=self._query(type, identifier, sender))

    def find_person(self, type: str, identifier: Any, *, sender: str | None = None) -> Json | None:
        """Like :meth:`get_person`, but None when there is no such person."""
        try:
            return self.get_person(type, identifier, sender=sender)
        except NotFound:
            return None

    @staticmethod
    def _list_envelope(body: Any, key: str, limit: int, page: int) -> Json:
        """Normalise list responses: a bare array or an envelope under ``key`` (or people/results/items)."""
        if isinstance(body, list):
            return {key: body, "limit": limit, "page": page}
        if not isinstance(body, dict):
            return {key: [], "limit": limit, "page": page}
        out = dict(body)
        if key not in out:
            for alt in ("persons", "people", "results", "items", "data", "tags", "companies", "customAttributes"):
                if isinstance(out.get(alt), list):
                    out[key] = out.pop(alt)
                    break
            else:
                out[key] = []
        out.setdefault("limit", limit)
        out.setdefault("page", page)
        return out

    def list_persons(
        self,
        *,
        limit: int = 20,
        page: int = 1,
        order_by: str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        include_total_count: bool = False,
    ) -> Json:
        """One page: ``{"persons": [...], "limit", "page", "orderBy"?, "totalCount"?}``."""
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "filter": filter if filter is None or isinstance(filter, str) else json.dumps(filter),
            "includeTotalCount": "true" if include_total_count else None,
        }
        body = self._request("GET", "/people/2/persons", params=params)
        return self._list_envelope(body, "persons", limit, page)

    def iter_persons(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        order_by: str | None = None,
        page_size: int = 1000,
        start_page: int = 1,
    ) -> Iterator[Json]:
        """Every person, page after page (stops at the first short page)."""
        page = start_page
        while True:
            persons = self.list_persons(limit=page_size, page=page, order_by=order_by, filter=filter)["persons"]
            yield from persons
            if len(persons) < page_size:
                return
            page += 1

    def create_person(self, person: Mapping[str, Any]) -> Json:
        """Create a person (``POST /people/2/persons``, 200). Safe to call once per intent: transient
        failures are retried only after checking the person does not exist already."""
        return self._create_safely(
            lambda: self._request("POST", "/people/2/persons", json_body=person, retries=0),
            lambda: self._lookup_created_person(person),
        )

    def _lookup_created_person(self, person: Mapping[str, Any]) -> Json | None:
        contacts = person.get("contactInformation") or {}
        candidates: list[tuple[str, str]] = []
        if person.get("externalId"):
            candidates.append(("EXTERNAL_ID", person["externalId"]))
        else:
            candidates += [("EMAIL", e["address"]) for e in contacts.get("email") or () if e.get("address")]
            candidates += [("PHONE", p["number"]) for p in contacts.get("phone") or () if p.get("number")]
        for type_, identifier in candidates:
            found = self.find_person(type_, identifier)
            if found is not None:
                return found
        return None

    def replace_person(self, type: str, identifier: Any, person: Mapping[str, Any], *, sender: str | None = None):
        """PUT: overwrite the profile (absent attributes cleared, tags and contacts replaced)."""
        return self._request("PUT", "/people/2/persons", params=self._query(type, identifier, sender), json_body=person)

    def update_person(self, type: str, identifier: Any, changes: Mapping[str, Any], *, sender: str | None = None):
        """PATCH: merge (absent attributes kept, tags and contacts appended)."""
        return self._request(
            "PATCH", "/people/2/persons", params=self._query(type, identifier, sender), json_body=changes
        )

    def delete_person(self, type: str, identifier: Any, *, sender: str | None = None) -> None:
        self._request("DELETE", "/people/2/persons", params=self._query(type, identifier, sender))

    def _contacts(self, method: str, type_: str, identifier: Any, contacts: Mapping[str, Any], sender: str | None):
        return self._request(
            method,
            "/people/2/persons/contactInformation",
            params=self._query(type_, identifier, sender),
            json_body={"contactInformation": contacts},
        )

    def add_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        """Add emails/phones: ``contacts`` = ``{"email": [{"address": ...}], "phone": [{"number": ...}]}``."""
        return self._contacts("PATCH", type, identifier, contacts, sender)

    def replace_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        return self._contacts("PUT", type, identifier, contacts, sender)

    def remove_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        return self._contacts("DELETE", type, identifier, contacts, sender)

    @staticmethod
    def _check_batch(items: list[Any], limit: int = MAX_BATCH) -> list[Any]:
        items = list(items)
        if not 1 <= len(items) <= limit:
            raise ValueError(f"a batch takes 1 to {limit} items, got {len(items)}")
        return items

    @staticmethod
    def _has_identifier(person: Mapping[str, Any]) -> bool:
        contacts = person.get("contactInformation") or {}
        return bool(person.get("externalId") or contacts.get("email") or contacts.get("phone"))

    def create_persons(self, people: Iterable[Mapping[str, Any]]) -> Json:
        """Batch create (≤1000): ``{"results": [failed items only]}``; ``"partial"`` says if any failed.

        Retried after transient failures only when every person carries a unique identifier; then items
        a retry reports as existing may be ours from the lost attempt: ``"retried"`` is True in that case.
        """
        people = self._check_batch(list(people))
        safe = all(self._has_identifier(p) for p in people)
        retried = False
        attempt = 0
        while True:
            try:
                body = self._request("POST", "/people/2/persons/batch", json_body={"people": people}, retries=0)
                break
            except InfobipError as error:
                retryable = isinstance(error, RateLimited) or (safe and error.transient)
                if not retryable or attempt >= self.max_retries:
                    raise
                retried = retried or not isinstance(error, RateLimited)
                self.sleep(self._backoff_delay(attempt, error))
                attempt += 1
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        result["retried"] = retried
        return result

    def update_persons(self, updates: Iterable[Mapping[str, Any]]) -> Json:
        """Batch PATCH: items ``{"query": {"type", "identifier", "sender"?}, "update": {...}}``."""
        body = self._request("PATCH", "/people/2/persons/batch", json_body={"people": self._check_batch(updates)})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def delete_persons(self, queries: Iterable[Mapping[str, Any]]) -> Json:
        """Batch delete: ``queries`` = ``[{"type": ..., "identifier": ...}, ...]``."""
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        body = self._request("DELETE", "/people/2/persons/batch", json_body={"people": people})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def match_persons(self, identities: Iterable[Mapping[str, Any]]) -> list[Json]:
        """Map identities (``{"type", "identifier", "sender"?}``) to person ids; unmatched are absent."""
        body = self._request(
            "POST", "/people/2/persons/match", json_body={"identities": list(identities)}, idempotent=True
        )
        return list((body or {}).get("matches") or [])

    def upsert_persons(self, persons: Iterable[Mapping[str, Any]], *, partial: bool = True) -> Json:
        """v3 upsert (PATCH = partial, PUT = full replace): ``{"errors": [...], "results": [...]}``."""
        method = "PATCH" if partial else "PUT"
        body = self._request(method, "/people/3/persons/upsert", json_body={"persons": self._check_batch(persons)})
        return self._v3_result(body)

    def merge_persons(self, persons: Iterable[Mapping[str, Any]]) -> Json:
        """v3 merge; retried on transient failures because a repeated merge converges."""
        body = self._request(
            "POST", "/people/3/persons/merge", json_body={"persons": self._check_batch(persons)}, idempotent=True
        )
        return self._v3_result(body)

    @staticmethod
    def _v3_result(body: Any) -> Json:
        body = body or {}
        errors, results = body.get("errors") or [], body.get("results") or []
        return {  # the spec types these as objects but shows arrays: accept both
            "errors": errors if isinstance(errors, list) else [errors],
            "results": results if isinstance(results, list) else [results],
        }

    # ----- tags -----

    def list_tags(
        self, *, limit: int = 20, page: int = 1, order_by: str | None = None, include_total_count: bool = False
    ) -> Json:
        """``{"tags": [...], "limit", "page", ...}`` whether Infobip answers an envelope or a bare array."""
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "includeTotalCount": "true" if include_total_count else None,
        }
        return self._list_envelope(self._request("GET", "/people/2/tags", params=params), "tags", limit, page)

    def create_tag(self, name: str) -> Json:
        return self._create_safely(
            lambda: self._request("POST", "/people/2/tags", json_body={"name": name}, retries=0),
            lambda: self._find(lambda: self.get_tag(name)),
        )

    def ensure_tag(self, name: str) -> Json:
        """The tag, created when missing."""
        try:
            return self.create_tag(name)
        except AlreadyExists:
            return self.get_tag(name)

    def get_tag(self, name: str) -> Json:
        return self._request("GET", "/people/2/tags/{name}", path_params={"name": name})

    def delete_tag(self, name: str) -> None:
        self._request("DELETE", "/people/2/tags/{name}", path_params={"name": name})

    def tag_persons(self, name: str, queries: Iterable[Mapping[str, Any]]) -> None:
        """Add tag ``name`` to persons (``queries`` = identity queries, ≤1000)."""
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        self._request(
            "PATCH", "/people/2/tags/{name}/persons", path_params={"name": name}, json_body={"people": people}
        )

    def untag_persons(self, name: str, queries: Iterable[Mapping[str, Any]]) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        self._request(
            "DELETE", "/people/2/tags/{name}/persons", path_params={"name": name}, json_body={"people": people}
        )

    @staticmethod
    def _find(call: Callable[[], Any]) -> Any | None:
        try:
            return call()
        except NotFound:
            return None

    # ----- custom attribute definitions -----

    def list_custom_attributes(
        self, *, limit: int = 20, page: int = 1, order_by: str | None = None, include_total_count: bool = False
    ) -> Json:
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "includeTotalCount": "true" if include_total_count else None,
        }
        try:
            body = self._request("GET", "/people/2/customAttributes", params=params)
        except NotFound:  # reported by third parties when no attribute is defined yet
            body = {"customAttributes": []}
        return self._list_envelope(body, "customAttributes", limit, page)

    def create_custom_attribute(
        self, name: str, data_type: str, *, object_schema: Mapping[str, str] | None = None
    ) -> Json:
        body: Json = {"name": name, "dataType": data_type}
        if object_schema is not None:
            body["objectSchema"] = dict(object_schema)
        return self._create_safely(
            lambda: self._request("POST", "/people/2/customAttributes", json_body=body, retries=0),
            lambda: self._find(lambda: self.get_custom_attribute(name)),
        )

    def get_custom_attribute(self, name: str) -> Json:
        return self._request("GET", "/people/2/customAttributes/{name}", path_params={"name": name})

    def delete_custom_attribute(self, name: str) -> None:
        self._request("DELETE", "/people/2/customAttributes/{name}", path_params={"name": name})

    # ----- companies -----

    @staticmethod
    def _selector(id: Any = None, external_id: str | None = None, name: str | None = None, domain=None) -> Json:
        given = {"id": id, "externalId": external_id, "name": name, "domain": domain}
        given = {k: v for k, v in given.items() if v is not None}
        if len(given) != 1:
            raise ValueError("give exactly one of id, external_id, name, domain")
        return given

    def get_company(self, *, id: Any = None, external_id: str | None = None, name=None, domain=None) -> Json:
        """One company by selector; raises NotFound (also when Infobip answers an empty list)."""
        selector = self._selector(id, external_id, name, domain)
        body = self._request("GET", "/people/2/companies", params=selector)
        companies = body.get("companies") if isinstance(body, dict) else body
        if isinstance(companies, list):
            if not companies:
                raise NotFound(f"no company with {selector}", status=404, endpoint="GET /people/2/companies")
            return companies[0]
        return body

    def find_company(self, **selector: Any) -> Json | None:
        try:
            return self.get_company(**selector)
        except NotFound:
            return None

    def list_companies(
        self,
        *,
        limit: int = 20,
        page: int = 1,
        order_by: str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        include_total_count: bool = False,
    ) -> Json:
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "filter": filter if filter is None or isinstance(filter, str) else json.dumps(filter),
            "includeTotalCount": "true" if include_total_count else None,
        }
        body = self._request("GET", "/people/2/companies", params=params)
        return self._list_envelope(body, "companies", limit, page)

    def create_company(self, company: Mapping[str, Any]) -> Json:
        return self._create_safely(
            lambda: self._request("POST", "/people/2/companies", json_body=company, retries=0),
            lambda: self.find_company(name=company["name"]) if company.get("name") else None,
        )

    def update_company(
        self,
        changes: Mapping[str, Any],
        *,
        id: Any = None,
        external_id: str | None = None,
        name: str | None = None,
        domain: str | None = None,
        replace_tags: bool = False,
        replace_domains: bool = False,
    ) -> Json:
        params = self._selector(id, external_id, name, domain)
        params["replaceTags"] = "true" if replace_tags else None
        params["replaceDomains"] = "true" if replace_domains else None
        return self._request("PATCH", "/people/2/companies", params=params, json_body=changes)

    def delete_company(self, *, id: Any = None, external_id: str | None = None, name=None, domain=None) -> None:
        self._request("DELETE", "/people/2/companies", params=self._selector(id, external_id, name, domain))

    def create_companies(self, companies: Iterable[Mapping[str, Any]]) -> Json:
        """Batch create: ``{"results": [{"status": 200, "id", "index"} | {"status": 409, "errors", ...}]}``."""
        body = self._request(
            "POST", "/people/2/companies/batch", json_body={"companies": self._check_batch(companies)}, retries=0
        )
        result = dict(body or {"results": []})
        result["partial"] = any(r.get("status") != 200 for r in result.get("results") or [])
        return result

    def update_companies(self, updates: Iterable[Mapping[str, Any]]) -> Json:
        """Batch PATCH: ``[{"query": {"name"|"id"|"externalId"|"domain": ...}, "update": {...}}]``."""
        body = self._request("PATCH", "/people/2/companies/batch", json_body={"companies": self._check_batch(updates)})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def delete_companies(self, queries: Iterable[Mapping[str, Any]]) -> Json:
        companies = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        body = self._request("DELETE", "/people/2/companies/batch", json_body={"companies": companies})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def add_persons_to_company(self, queries: Iterable[Mapping[str, Any]], **selector: Any) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        params = self._selector(**selector)
        self._request("PATCH", "/people/2/companies/persons", params=params, json_body={"people": people})

    def remove_persons_from_company(self, queries: Iterable[Mapping[str, Any]], **selector: Any) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        params = self._selector(**selector)
        self._request("DELETE", "/people/2/companies/persons", params=params, json_body={"people": people})

    # ----- events -----

    def list_event_definitions(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        order_field: str | None = None,
        order_type: str | None = None,
        category: Iterable[str] | None = None,
        search_text: str | None = None,
    ) -> list[Json]:
        params = {
            "offset": offset,
            "limit": limit,
            "orderField": order_field,
            "orderType": order_type,
            "category": ",".join(category) if category else None,
            "searchText": search_text,
        }
        try:
            body = self._request("GET", "/peopleevents/2/definitions", params=params)
        except NotFound:  # the spec's "No matches"
            return []
        if isinstance(body, dict):
            for key in ("definitions", "results", "items"):
                if isinstance(body.get(key), list):
                    return body[key]
            return []
        return list(body or [])

    def create_event_definition(self, definition: Mapping[str, Any]) -> Json:
        """201 definition; a duplicate ``definitionId`` raises AlreadyExists (409)."""
        definition_id = definition.get("definitionId")

        def create() -> Any:
            try:
                return self._request("POST", "/peopleevents/2/definitions", json_body=definition, retries=0)
            except Conflict as exc:
                if isinstance(exc, AlreadyExists):
                    raise
                raise AlreadyExists(
                    exc.message, status=exc.status, code=exc.code, details=exc.details, body=exc.body
                ) from exc

        return self._create_safely(
            create, lambda: self._find(lambda: self.get_event_definition(definition_id)) if definition_id else None
        )

    def get_event_definition(self, definition_id: str) -> Json:
        return self._request(
            "GET", "/peopleevents/2/definitions/{definitionId}", path_params={"definitionId": definition_id}
        )

    def update_event_definition(self, definition_id: str, changes: Mapping[str, Any]) -> Json:
        return self._request(
            "POST",
            "/peopleevents/2/definitions/{definitionId}",
            path_params={"definitionId": definition_id},
            json_body=changes,
            idempotent=True,
        )

    def send_event(
        self,
        definition_id: str,
        identifier: Any,
        *,
        identifier_type: str = "ID",
        properties: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        create_person: bool = False,
        sender: str | None = None,
    ) -> Json:
        """Send one event (201). Safe to retry: an ``eventId`` is generated when not given and Infobip
        records an eventId once."""
        body = {"eventId": event_id or uuid.uuid4().hex, "properties": dict(properties or {})}
        params = {
            "identifierType": identifier_type,
            "createPerson": "true" if create_person else None,
            "sender": sender,
        }
        return self._request(
            "POST",
            "/peopleevents/2/persons/{personId}/definitions/{definitionId}/events",
            path_params={"personId": identifier, "definitionId": definition_id},
            params=params,
            json_body=body,
            idempotent=True,
        )

    def send_events(self, events: Iterable[Mapping[str, Any]]) -> list[Json]:
        """Batch events (≤5000, all or nothing, 202). Items without ``eventId`` get one so retries are safe;
        returns the items as sent."""
        items = []
        for event in self._check_batch(list(events), MAX_EVENT_BATCH):
            item = dict(event)
            item.setdefault("eventId", uuid.uuid4().hex)
            items.append(item)
        self._request("POST", "/people/3/events", json_body=items, idempotent=True)
        return items


# --- per-realm clients -------------------------------------------------------------------------------

_clients: dict[tuple[str, str], InfobipClient] = {}
_clients_lock = threading.Lock()


def client_for_realm(realm: Any, **options: Any) -> InfobipClient:
    """The cached client for a realm's Infobip account (one Session per base URL + API key).

    Uses ``realm.infobip_base_url`` / ``realm.infobip_api_key``, falling back to the settings
    ``INFOBIP_BASE_URL`` / ``INFOBIP_API_KEY``; the rate limiter comes from
    :func:`infobip.ratelimit.rate_limiter_from_settings` and is shared by all clients of the account.
    """
    from django.conf import settings

    from infobip.ratelimit import rate_limiter_from_settings

    base_url, api_key = realm_credentials(realm)  # infobip.hosts: which key may go to which URL
    key = (base_url.rstrip("/"), api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            options.setdefault("timeout", getattr(settings, "INFOBIP_TIMEOUT", 10.0))
            for option, setting in (
                ("max_retries", "INFOBIP_MAX_RETRIES"),
                ("backoff", "INFOBIP_BACKOFF"),
                ("backoff_cap", "INFOBIP_BACKOFF_CAP"),
            ):
                if hasattr(settings, setting):
                    options.setdefault(option, getattr(settings, setting))
            if "rate_limiter" not in options:
                options["rate_limiter"] = rate_limiter_from_settings(scope=scope_for(*key))
            client = InfobipClient(base_url, api_key, **options)
            _clients[key] = client
        return client


def clear_client_cache() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
