"""The base of every API view: JSON in and out, idempotency keys on writes.

Core imports no app: authentication and permission are DRF's DEFAULT_AUTHENTICATION_CLASSES and
DEFAULT_PERMISSION_CLASSES (identities' API keys), the idempotency store is the module named by the
IDEMPOTENCY_STORE setting (identities.idempotency)."""

from __future__ import annotations

import json
from importlib import import_module

from django.conf import settings
from django.db import transaction
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from core.actors import Actor, actor_set
from core.api.parsers import StrictJSONParser
from core.errors import ValidationError

IDEMPOTENT_METHODS = {"POST", "PATCH", "DELETE", "PUT"}
REPLAY_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location",)
ALIAS_PREFIX, CANONICAL_PREFIX = "/v1/identitites", "/v1/identities"


def canonical_path(path: str) -> str:
    """The misspelled alias of the source documents names the same resources."""
    if path == ALIAS_PREFIX or path.startswith(ALIAS_PREFIX + "/"):
        return CANONICAL_PREFIX + path[len(ALIAS_PREFIX) :]
    return path


def idempotency_store():
    """request_fingerprint, idempotency_begin/complete/release: the module the IDEMPOTENCY_STORE setting names."""
    return import_module(settings.IDEMPOTENCY_STORE)


class ApiView(APIView):
    parser_classes = [StrictJSONParser]

    @property
    def api_key(self):
        """The authenticated key (request.auth): it carries the realm and the owner."""
        return self.request.auth

    @property
    def realm(self):
        return self.request.auth.realm

    @property
    def owner(self) -> str:
        return self.request.auth.owner

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(message)  # the permission's message: how to authenticate
        super().permission_denied(request, message, code)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.auth
        if key is not None:  # the writes of this request are the key's (people.activity); ActorMiddleware resets it
            label = " ".join(part for part in (getattr(key, "name", ""), f"{getattr(key, 'prefix', '')}…") if part)
            actor_set(Actor("api_key", str(key.pk), label))
        for name, value in request.query_params.items():
            if "\x00" in value or "\x00" in name:
                raise ValidationError.single(name.replace("\x00", ""), "must not contain NUL characters")

    def body_object(self) -> dict:
        data = self.request.data
        if not isinstance(data, dict):
            raise ValidationError.single("body", "must be a JSON object")
        return data

    def dispatch(self, request, *args, **kwargs):
        """DRF's dispatch, with the handler run under the request's idempotency key when it carries one."""
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            if request.method.lower() in self.http_method_names:
                handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            key = request.META.get("HTTP_IDEMPOTENCY_KEY")
            if key is not None and request.method in IDEMPOTENT_METHODS and handler != self.http_method_not_allowed:
                response = self._idempotent(key, handler, request, *args, **kwargs)
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def idempotency_body(self, request) -> bytes:
        """What an idempotency key's fingerprint compares of the body: its bytes (JSON compares by content)."""
        return request._request.body

    def _idempotent(self, key, handler, request, *args, **kwargs) -> Response:
        idempotency = idempotency_store()
        django_request = request._request
        fingerprint = idempotency.request_fingerprint(
            request.method, canonical_path(django_request.path), django_request.META.get("QUERY_STRING", ""),
            self.idempotency_body(request),
        )  # fmt: skip
        begun = idempotency.idempotency_begin(
            realm=self.realm, key=key, fingerprint=fingerprint, method=request.method,
            path=canonical_path(django_request.path), api_key=request.auth,
        )  # fmt: skip
        record = begun.record
        if begun.replay:
            headers = {**record.response_headers, REPLAY_HEADER: "true"}
            return Response(record.response_body, status=record.response_status, headers=headers)
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        response = handler(request, *args, **kwargs)
                except Exception as exc:
                    response = self.handle_exception(exc)  # our error envelope; re-raises what it cannot map
                if response.status_code >= 500:
                    raise _Unstorable(response)
                body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
                idempotency.idempotency_complete(record=record, status=response.status_code, body=body, headers=headers)
        except _Unstorable as unstorable:
            idempotency.idempotency_release(record=record)
            return unstorable.response
        except BaseException:
            idempotency.idempotency_release(record=record)
            raise
        return response


class _Unstorable(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response
