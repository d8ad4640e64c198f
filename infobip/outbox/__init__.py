"""The outbox: changes that must reach Infobip, recorded in the change's transaction and delivered after commit.

Services call :func:`outbox_record` / :func:`outbox_record_many` with a payload built by
:mod:`infobip.outbox.payloads`; :mod:`infobip.outbox.engine` drains. Design: docs/outbox.md."""

from infobip.outbox.recording import (
    enqueue_drain,
    kick_drain,
    outbox_record,
    outbox_record_many,
    outbox_supersede,
    wakeup_clear,
)

# infobip/sync.py still imports the old private name; it switches to outbox_record_many on merge.

__all__ = ["enqueue_drain", "kick_drain", "outbox_record", "outbox_record_many", "outbox_supersede", "wakeup_clear"]
