"""django-q2 entry points of the tracking app (idempotent: safe to run twice)."""

from tracking.services import anonymous_visitors_purge


def visitors_purge() -> int:
    """Daily (a Schedule registered by tracking's migration 0002): anonymous visitors past retention go."""
    return anonymous_visitors_purge()
