"""django-q2 entry points of the identities app."""

from __future__ import annotations

import logging

from identities.idempotency import idempotency_purge as _purge

log = logging.getLogger(__name__)


def idempotency_purge() -> int:
    """Hourly (Schedule created by migration identities.0004): forget idempotency keys older than 24 hours."""
    deleted = _purge()
    if deleted:
        log.info("purged %d idempotency keys", deleted)
    return deleted
