"""Proven under faults (bench/faults.py with smaller counts): mixed creates, updates, deletes, merges and undos
through 20 % 5xx, 10 % responses lost after the write, 5 % slow calls; the sandbox restarted mid-run from its
state file; a merge undone while its push fails. Afterwards Infobip's persons equal the mirror's, counted."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import faults as bench
from infobip.client import clear_client_cache
from infobip.outbox import engine

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ZEROS = dict.fromkeys(bench.COUNTS, 0)


@pytest.fixture
def fast(settings):
    bench.fast_outbox(settings)
    clear_client_cache()
    yield settings
    clear_client_cache()


@pytest.fixture
def sandbox(tmp_path: Path):
    server = bench._sandbox(state_file=str(tmp_path / "state.json"))
    holder = {"sandbox": server}
    yield holder
    holder["sandbox"].stop()


def test_mixed_changes_through_faults_end_equal_in_both_stores(fast, sandbox):
    server = sandbox["sandbox"]
    server.faults.configure(seed=15, **bench.FAULTS)
    realm = bench._realm("Faults", server)
    rng = random.Random(15)

    mix = bench.scenario_changes(realm, 400, rng, lambda: bench.drain_until_settled(realm, timeout=120))

    stats = server.stats()
    assert sum(stats["faults"]["injected_errors"].values()) >= 10
    assert sum(stats["faults"]["lost_responses"].values()) >= 5
    assert mix.ops["merge"] >= 20
    assert mix.ops["undo"] >= 10
    assert mix.ops["delete"] >= 30
    assert bench.compare(realm, server.store.persons, mix) == ZEROS
    assert set(bench.outbox_counts(realm)) <= {"done", "skipped", "superseded"}  # nothing dead or pending


def test_a_sandbox_restarted_mid_run_from_its_state_file_ends_equal(fast, sandbox):
    server = sandbox["sandbox"]
    server.faults.configure(seed=16, **bench.FAULTS)
    realm = bench._realm("Restarted", server)
    restarts = []

    def drain_with_restart() -> None:
        engine.drain(max_rounds=2)
        old = sandbox["sandbox"]
        port, state_file, config = old.port, str(old.state.path), old.faults.config
        old.stop()
        sandbox["sandbox"] = new = bench._sandbox(port, state_file)
        new.faults.configure(config)
        restarts.append(len(new.store.persons))
        bench.drain_until_settled(realm, timeout=120)

    mix = bench.scenario_changes(realm, 300, random.Random(16), drain_with_restart)

    assert len(restarts) == 2
    assert restarts[0] > 0
    assert bench.compare(realm, sandbox["sandbox"].store.persons, mix) == ZEROS
    assert set(bench.outbox_counts(realm)) <= {"done", "skipped", "superseded"}


def test_a_merge_undone_while_its_push_fails_leaves_both_persons_in_infobip(fast, sandbox):
    server = sandbox["sandbox"]
    realm = bench._realm("Undo", server)

    result = bench.scenario_undo(realm, server)

    assert result["profiles"] == ["x-900000", "x-900001"]
    assert result["counts"] == ZEROS
    assert result["outbox"].get("superseded") == 1  # the merge's push, never sent after the undo
    assert set(result["outbox"]) <= {"done", "superseded"}
