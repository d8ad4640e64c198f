"""The public tracking endpoints a website's browser calls (``POST /v1/track/events``, ``/v1/track/identify``).

Authenticated by the site's public key only (``X-Site-Key`` or ``?key=``, as sendBeacon cannot set headers): it
writes tracking rows of its own site, never reads anything. CORS answers only the site's allowed origins, and a
preflight (OPTIONS) is answered before any key check. Bodies are bounded; floods are refused per visitor and per
key with 429 before anything is stored. Plain Django views: no API-key authentication, no session, no CSRF.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ParseError

from core.api.exceptions import error_body
from core.api.parsers import check_json_value
from core.errors import DomainError, ValidationError
from tracking import services, webforms
from tracking.models import Site
from tracking.selectors import site_for_key

MAX_BODY_BYTES = 64_000
PREFLIGHT_HEADERS = "Content-Type, X-Site-Key"


def _limits() -> tuple[int, int]:
    return (
        getattr(settings, "TRACKING_RATE_PER_VISITOR", 120),  # calls a minute
        getattr(settings, "TRACKING_RATE_PER_KEY", 6000),
    )


def _over_limit(name: str, limit: int) -> bool:
    key = f"track:rate:{name}"
    cache.add(key, 0, 60)
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 60)
        return False


STATUS_NAMES = {400: "ValidationError", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                413: "PayloadTooLarge", 429: "TooManyRequests"}  # fmt: skip


def _error(status: int, code: str, message: str, fields: dict | None = None, origin: str | None = None):
    """The REST API's one error envelope (core.api.exceptions): name, message, code (the status), type, data."""
    body = error_body(
        status=status,
        name=STATUS_NAMES.get(status, "Error"),
        message=message,
        type_=code,
        data={"fields": fields} if fields else {},
    )
    response = JsonResponse(body, status=status)
    if status == 429:
        response["Retry-After"] = "60"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _check_text(payload) -> None:
    """NUL characters and lone surrogates anywhere (PostgreSQL stores neither) are a 400 naming the field, as on
    the REST API (the events batch checks its few free-text fields itself, cheaper)."""
    try:
        check_json_value(payload)
    except ParseError as exc:
        raise ValidationError.single("body", str(exc.detail)) from None


@method_decorator(csrf_exempt, name="dispatch")
class TrackView(View):
    http_method_names = ["post", "options"]
    action = "events"

    def _site(self, request: HttpRequest) -> Site | None:
        key = request.headers.get("X-Site-Key") or request.GET.get("key") or ""
        if not key.startswith("cdpsite_") or len(key) > 64:
            return None
        return site_for_key(key)

    def options(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Preflight: allowed when some active site lists the origin (the key is checked on the POST)."""
        origin = request.headers.get("Origin")
        response = HttpResponse(status=204)
        if origin and Site.objects.filter(active=True, allowed_origins__contains=[origin]).exists():
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
            response["Access-Control-Max-Age"] = "600"
            response["Vary"] = "Origin"
        return response

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if len(request.body) > MAX_BODY_BYTES:
            return _error(413, "too_large", f"a call carries at most {MAX_BODY_BYTES:,} bytes")
        site = self._site(request)
        if site is None:
            return _error(401, "unknown_key", "unknown or inactive site key")
        origin = request.headers.get("Origin")
        if origin is not None and not site.allows(origin):
            return _error(403, "origin_not_allowed", f"origin {origin[:100]!r} is not allowed for this site")
        try:
            payload = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "malformed", "the body is not JSON", origin=origin)
        per_visitor, per_key = _limits()
        visitor = payload.get("visitorId") if isinstance(payload, dict) else None
        if _over_limit(f"key:{site.pk}", per_key) or (
            isinstance(visitor, str) and _over_limit(f"visitor:{site.pk}:{visitor[:64]}", per_visitor)
        ):
            return _error(429, "rate_limited", "too many calls; retry in a minute", origin=origin)
        try:
            body = self.handle(site, payload, **kwargs)
        except ValidationError as exc:
            return _error(400, "invalid", "the call was refused; nothing was stored", exc.fields, origin)
        except DomainError as exc:
            return _error(exc.status, exc.code, exc.message, origin=origin)
        response = JsonResponse(body, status=200)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Vary"] = "Origin"
        return response

    def handle(self, site: Site, payload, **kwargs) -> dict:
        return {"stored": services.track_batch_ingest(site=site, payload=payload)}


class IdentifyView(TrackView):
    def handle(self, site: Site, payload, **kwargs) -> dict:
        _check_text(payload)
        _person, outcome = services.visitor_identify(site=site, payload=payload)
        return {"identified": outcome}  # never the person's data: the key cannot read


class FormSubmissionView(TrackView):
    """``POST /v1/forms/<slug>/submissions``: a form of the key's site (tracking.webforms)."""

    def handle(self, site: Site, payload, **kwargs) -> dict:
        _check_text(payload)
        form = webforms.form_find(site=site, slug=kwargs["form"])
        submission, outcome = webforms.form_submit(form=form, payload=payload)
        return {"submission": submission.pk, "outcome": outcome}  # never the person's data
