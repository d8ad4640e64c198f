"""The client's transport: one keep-alive session per account and the one path every call takes.

Every call goes through :meth:`Transport._request`, which waits for the rate limiter (per account and
endpoint, shared across processes), always sends a timeout, retries only what is safe (429 always, honouring
``Retry-After`` or else exponential backoff with jitter; 5xx, timeouts and connection errors only for
idempotent calls) and turns every failure into a typed :class:`~infobip.client.errors.InfobipError`.
Each HTTP request is sent by :meth:`Transport._send_once`, and only there.

Idempotent calls: GET, PUT, DELETE and PATCH. PATCH converges on Infobip (scalars are overwritten, tags,
emails, phones and company domains are appended as sets), so repeating it is safe. Creates are made safe by
:meth:`Transport._create_safely` instead: after a transient failure it looks the record up before creating
again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from infobip.client.errors import AlreadyExists, InfobipError, NotFound, RateLimited, Timeout, Unreachable, parse_error
from infobip.contract.limits import MAX_BATCH, RateLimiter, scope_for
from infobip.hosts import check_base_url

logger = logging.getLogger("infobip.client")

Json = dict[str, Any]
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
# A caller's time budget (time.monotonic()): no retry waits past it (the outbox task's budget, infobip.outbox).
call_deadline: ContextVar[float | None] = ContextVar("infobip_call_deadline", default=None)


class FoundExisting(dict):
    """What a safe create returns when, after a transient failure, its look-up found a record with the identifier:
    our own create applied before its response was lost, or a record that was there before (created elsewhere, a
    profile a merge undo brings back). The caller cannot tell which, so it must write its state onto it."""


def _past_deadline(delay: float) -> bool:
    deadline = call_deadline.get()
    return deadline is not None and time.monotonic() + delay > deadline


class _NoLimit:
    def acquire(self, endpoint: str) -> float:
        return 0.0


class Transport:
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
        return f"<{type(self).__name__} {self.base_url}>"

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
                if _past_deadline(delay):
                    raise
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
        """Run a non-idempotent create; after a transient failure, look before creating again. A record found by
        that look-up is returned as :class:`FoundExisting` (it may not hold what the create sent)."""
        attempt = 0
        while True:
            try:
                return create()
            except AlreadyExists:
                if attempt == 0:
                    raise
                existing = lookup()  # our earlier attempt went through after all, or it was there before
                if existing is None:
                    raise
                return FoundExisting(existing)
            except InfobipError as error:
                if not error.transient or attempt >= self.max_retries:
                    raise
                delay = self._backoff_delay(attempt, error)
                if _past_deadline(delay):
                    raise
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
                    logger.info("Infobip create failed transiently and a record with its identifier exists; using it")
                    return FoundExisting(existing)

    # ----- shapes shared by the endpoint methods -----

    @staticmethod
    def _list_params(limit: int, page: int, order_by: Any, filter: Any, include_total_count: bool) -> dict[str, Any]:
        """The query of a list endpoint (persons, companies): a filter given as a mapping is sent as JSON."""
        return {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "filter": filter if filter is None or isinstance(filter, str) else json.dumps(filter),
            "includeTotalCount": "true" if include_total_count else None,
        }

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

    @staticmethod
    def _check_batch(items: list[Any], limit: int = MAX_BATCH) -> list[Any]:
        items = list(items)
        if not 1 <= len(items) <= limit:
            raise ValueError(f"a batch takes 1 to {limit} items, got {len(items)}")
        return items

    @staticmethod
    def _find(call: Callable[[], Any]) -> Any | None:
        try:
            return call()
        except NotFound:
            return None
