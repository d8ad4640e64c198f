"""people.services.tags_get_or_create under concurrency: two transactions creating the same new tag (two import
batches applied at once, an import beside a staff edit) get the one tag, and only the one whose INSERT wrote it
tells Infobip (one TAG CREATE outbox row, not two)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
from people.models import Tag
from people.services import tags_get_or_create
from tests.identities.factories import RealmFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_transactions_creating_the_same_tag_record_one_create():
    realm = RealmFactory(name="Tags", cdp_enabled=True)
    first_wrote, second_done = threading.Event(), threading.Event()
    result = {}

    def second():
        try:
            first_wrote.wait(timeout=10)
            with transaction.atomic():  # waits for the first transaction's commit inside the INSERT
                result["tags"] = tags_get_or_create(realm=realm, names=["vip", "Second"])
        finally:
            second_done.set()
            connections.close_all()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        [vip] = tags_get_or_create(realm=realm, names=["VIP"])
        first_wrote.set()
        assert not second_done.wait(timeout=1.0)  # the second is held by the uncommitted tag
    thread.join(timeout=10)
    assert result["tags"][0].pk == vip.pk
    assert Tag.objects.filter(realm=realm).count() == 2
    creates = OutboxEntry.objects.filter(realm=realm, entity=OutboxEntity.TAG).order_by("entity_id")
    assert list(creates.values_list("entity_id", "op")) == [("Second", OutboxOp.CREATE), ("VIP", OutboxOp.CREATE)]
