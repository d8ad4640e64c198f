"""Who is making the current change: a staff user, an API key, an import job, a sync run (or the system).

A context variable, set at the edge (the middleware for admin requests, the API view once the key is known, the
import and sync tasks) and read by people.activity when a service writes a person's history row, so services
need no actor argument threaded through every call. Core imports no app: actors are plain values."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # admin | api_key | import | sync | system
    id: str = ""
    label: str = ""


SYSTEM = Actor("system", "", "system")
_current: ContextVar[Actor] = ContextVar("cdpadmin_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def actor_set(actor: Actor):
    """Set the actor until the returned token is reset (for code that cannot wrap a `with`)."""
    return _current.set(actor)


def actor_reset(token) -> None:
    _current.reset(token)


def staff_actor(user) -> Actor:
    return Actor("admin", str(user.pk), user.get_username())


class ActorMiddleware:
    """Admin requests act as their logged-in staff user; every request starts from (and ends back at) the
    system actor, so a value set for one request never leaks into the next on a reused thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        actor = staff_actor(user) if user is not None and user.is_authenticated else SYSTEM
        with acting_as(actor):
            return self.get_response(request)
