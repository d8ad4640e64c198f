"""Recording outbox rows: inside the change's transaction only, one wake-up per commit, and the COPY path for
large lists writes exactly the rows the small path writes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from infobip.models import OutboxEntry, OutboxOp, OutboxStatus
from infobip.outbox import outbox_record_many, outbox_supersede, recording
from infobip.outbox.payloads import PersonChange, Sets

pytestmark = pytest.mark.django_db

COMPARED = ["realm_id", "entity", "entity_id", "op", "payload", "status", "attempts", "last_error", "processed_at",
            "locked_until", "locked_by"]  # fmt: skip


def _items(first: int, count: int) -> list[tuple[int, dict]]:
    return [
        (pk, PersonChange.build(fields=["city"], added=Sets.of(emails=["p@x.hr"])).to_json() if pk % 2 else None)
        for pk in range(first, first + count)
    ]


def _rows(ids: range) -> list[dict]:
    rows = OutboxEntry.objects.filter(entity_id__in=[str(i) for i in ids]).order_by("id")
    return list(rows.values(*COMPARED, "created", "next_attempt_at"))


def test_the_copy_path_writes_the_rows_the_small_path_writes(cdp_realm, django_capture_on_commit_callbacks):
    big = recording.COPY_MIN + 1
    with django_capture_on_commit_callbacks() as small_wakeups, transaction.atomic():
        assert outbox_record_many(realm=cdp_realm, entity="person", op=OutboxOp.UPDATE, items=_items(0, 3)) == 3
    with django_capture_on_commit_callbacks() as copy_wakeups, transaction.atomic():
        written = outbox_record_many(realm=cdp_realm, entity="person", op=OutboxOp.UPDATE, items=_items(1000, big))
    assert written == big
    assert len(small_wakeups) == len(copy_wakeups) == 1
    small, copied = _rows(range(3)), _rows(range(1000, 1000 + big))
    assert [r["entity_id"] for r in copied] == [str(i) for i in range(1000, 1000 + big)]  # in the given order
    for index, row in enumerate(copied[:3]):
        expected = {k: v for k, v in small[index].items() if k in COMPARED}
        assert {k: v for k, v in row.items() if k in COMPARED} == {**expected, "entity_id": str(1000 + index)}
    assert all(r["status"] == OutboxStatus.PENDING and r["created"] and r["next_attempt_at"] for r in copied)
    assert copied[1]["payload"] == {"fields": ["city"], "added": {"phones": [], "emails": ["p@x.hr"], "tags": []},
                                    "removed": {"phones": [], "emails": [], "tags": []}}  # fmt: skip
    assert copied[0]["payload"] == {}


def test_the_copy_path_rolls_back_with_the_change(cdp_realm):
    def change_that_fails() -> None:
        with transaction.atomic():
            items = _items(0, recording.COPY_MIN + 5)
            outbox_record_many(realm=cdp_realm, entity="person", op=OutboxOp.CREATE, items=items)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        change_that_fails()
    assert not OutboxEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_recording_many_outside_a_transaction_is_refused(cdp_realm):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox_record_many(realm=cdp_realm, entity="person", op=OutboxOp.CREATE, items=_items(0, 1))


def test_superseding_marks_undelivered_rows_with_the_reason_and_spares_leased_ones(cdp_realm, admin_client):
    with transaction.atomic():
        outbox_record_many(realm=cdp_realm, entity="person", op=OutboxOp.UPDATE, items=_items(0, 3))
    leased = OutboxEntry.objects.get(entity_id="1")
    leased.locked_until, leased.locked_by = timezone.now() + dt.timedelta(minutes=5), "worker-1"
    leased.save()
    with transaction.atomic():
        count = outbox_supersede(
            realm=cdp_realm, entity="person", entity_ids=[0, 1], reason="Superseded: a newer change says otherwise."
        )
    assert count == 1
    assert dict(OutboxEntry.objects.values_list("entity_id", "status")) == {
        "0": OutboxStatus.SUPERSEDED,
        "1": OutboxStatus.PENDING,  # in flight: the handler checks the newer facts itself
        "2": OutboxStatus.PENDING,
    }
    page = admin_client.get(reverse("admin:infobip_outboxentry_changelist") + "?status__exact=superseded")
    assert page.status_code == 200
    assert "Superseded (obsolete)" in page.text
    assert "a newer change says otherwise" in page.text
