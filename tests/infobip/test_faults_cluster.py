"""Proven under faults with a real cluster (bench/faults.py, smaller counts): a `manage.py qworker` cluster is
SIGKILLed at random points mid-drain three times and started again while mixed changes go through 20 % 5xx,
10 % lost responses and 5 % slow calls; afterwards Infobip's persons equal the mirror's, counted."""

from __future__ import annotations

import random

import pytest

from bench import faults as bench
from infobip.client import clear_client_cache
from tests.infobip.test_cluster import database_url

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_cluster_sigkilled_three_times_mid_drain_loses_nothing(settings):
    bench.fast_outbox(settings)
    clear_client_cache()
    server = bench._sandbox()
    try:
        server.faults.configure(seed=17, **bench.FAULTS)
        realm = bench._realm("Killed", server)
        rng = random.Random(17)
        kills = [1, 2]
        at_kill = []

        def drain() -> None:
            at_kill.extend(bench.drain_with_kills(realm, database_url(), rng, kills=kills.pop(0), timeout=240))

        mix = bench.scenario_changes(realm, 300, rng, drain)

        assert len(at_kill) == 3
        assert bench.compare(realm, server.store.persons, mix) == dict.fromkeys(bench.COUNTS, 0)
        assert set(bench.outbox_counts(realm)) <= {"done", "skipped", "superseded"}
        print(f"SIGKILLed at {at_kill}")
    finally:
        server.stop()
        clear_client_cache()
