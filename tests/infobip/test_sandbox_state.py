"""The sandbox's state file: it survives restarts, reset empties it, a bad file is refused by name."""

import json
import os
import signal
import subprocess
import sys

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from infobip.sandbox import SandboxServer
from infobip.sandbox.persistence import StateFileError, save_state
from infobip.sandbox.pytest_plugin import (
    PROJECT_ROOT,
    SANDBOX_API_KEY,
    free_port,
    start_sandbox_process,
    stop_sandbox_process,
)
from infobip.sandbox.store import Store

P = "/people/2/persons"
AUTH = {"Authorization": f"App {SANDBOX_API_KEY}"}


def _person(n):
    return {
        "externalId": f"p{n}",
        "firstName": f"Jane{n}",
        "tags": ["VIP"],
        "contactInformation": {"email": [{"address": f"jane{n}@example.com"}]},
    }


def _create(url, n):
    response = requests.post(url + P, json=_person(n), headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _get(url, type_, identifier):
    return requests.get(url + P, params={"type": type_, "identifier": identifier}, headers=AUTH, timeout=10)


def test_persons_survive_a_restart_of_the_sandbox_process_with_the_same_ids(tmp_path):
    state = tmp_path / "state.json"
    sandbox = start_sandbox_process("--rate-limits", "off", "--state-file", str(state))
    try:
        assert requests.post(sandbox.url + "/people/2/tags", json={"name": "VIP"}, headers=AUTH, timeout=10).ok
        created = [_create(sandbox.url, n) for n in range(3)]
        assert requests.delete(sandbox.url + P, params={"type": "ID", "identifier": 3}, headers=AUTH, timeout=10).ok
    finally:
        stop_sandbox_process(sandbox)  # SIGTERM: the server saves on shutdown
    assert sandbox.process.returncode == 0
    sandbox = start_sandbox_process("--rate-limits", "off", "--state-file", str(state))
    try:
        assert sandbox.control("GET", "health")["persons"] == 2
        for record in created[:2]:
            found = _get(sandbox.url, "EMAIL", record["contactInformation"]["email"][0]["address"])
            assert found.status_code == 200
            assert found.json() == record
        assert _get(sandbox.url, "ID", 3).status_code == 404
        assert _create(sandbox.url, 9)["id"] == 4  # ids are never reused, not even the deleted 3
        listed = requests.get(sandbox.url + "/people/2/tags/VIP", headers=AUTH, timeout=10)
        assert listed.status_code == 200
    finally:
        stop_sandbox_process(sandbox)


def test_a_flushed_state_survives_a_sigkill(tmp_path):
    state = tmp_path / "state.json"
    sandbox = start_sandbox_process("--rate-limits", "off", "--state-file", str(state), "--auto-create-tags")
    try:
        record = _create(sandbox.url, 1)
        assert sandbox.control("POST", "flush") == {"saved": True, "stateFile": str(state)}
        assert sandbox.control("POST", "flush")["saved"] is False  # nothing changed since
    finally:
        os.kill(sandbox.pid, signal.SIGKILL)
        sandbox.process.wait(timeout=10)
    sandbox = start_sandbox_process("--rate-limits", "off", "--state-file", str(state), "--seed-persons", "5")
    try:
        assert _get(sandbox.url, "ID", record["id"]).json() == record
        assert sandbox.control("GET", "health")["persons"] == 1  # a kept state is not seeded again
    finally:
        stop_sandbox_process(sandbox)


def test_the_whole_state_round_trips_and_every_index_is_rebuilt(tmp_path):
    state = tmp_path / "state.json"
    with SandboxServer(rate_limits="off", state_file=state) as server:
        store = server.store
        store.create_tag("VIP")
        store.create_custom_attribute({"name": "Since", "dataType": "DATE"})
        person = store.create_person(store.parse_person({**_person(1), "customAttributes": {"Since": "2020-01-01"}}))
        company = store.create_company(
            store.parse_company({"name": "Acme", "domains": ["acme.com"]}, require_name=True)
        )
        store.company_add_persons(company["id"], [person["id"]])
        store.create_definition({"definitionId": "cartAbandoned", "title": "Cart abandoned"})
        event, _ = store.record_event(person["id"], "cartAbandoned", "e1", None, "2026-01-01T00:00:00.000Z")
    restored = SandboxServer(rate_limits="off", state_file=state)
    try:
        store = restored.store
        assert store.persons == {person["id"]: person}
        assert store.find_person("EXTERNAL_ID", "p1") == person
        assert store.find_person("EMAIL", "JANE1@example.com") == person
        assert store.company_by_selector({"domain": "ACME.com"}) == company
        assert store.person_company == {person["id"]: company["id"]}
        assert store.tag_members == {"VIP": {person["id"]}}
        assert store.custom_attributes["Since"]["dataType"] == "DATE"
        assert store.definitions["cartAbandoned"]["title"] == "Cart abandoned"
        assert "emailOpened" in store.definitions  # the standard definitions exist once, not from the file
        assert store.record_event(person["id"], "cartAbandoned", "e1", None, "x") == (event, False)
        assert store.create_company(store.parse_company({"name": "Beta"}, require_name=True))["id"] == 2
    finally:
        restored.stop()


def test_reset_empties_the_sandbox_and_its_state_file(tmp_path):
    state = tmp_path / "state.json"
    with SandboxServer(rate_limits="off", state_file=state, api_keys=[SANDBOX_API_KEY]) as server:
        server.seed_persons(5)
        server.state.flush()
        assert len(json.loads(state.read_text())["persons"]) == 5
        assert requests.post(server.url + "/_sandbox/reset", timeout=10).json() == {"ok": True}
        assert json.loads(state.read_text())["persons"] == []
        server.seed_persons(2)
        call_command("sandbox_reset", url=server.url)
        assert server.store.persons == {}
    with SandboxServer(rate_limits="off", state_file=state) as server:
        assert server.store.persons == {}


def test_sandbox_reset_removes_the_state_file_of_a_stopped_sandbox(tmp_path):
    state = tmp_path / "state.json"
    with SandboxServer(rate_limits="off", state_file=state) as server:
        server.seed_persons(3)
    assert state.exists()
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="pass --state-file"):
        call_command("sandbox_reset", url=url)
    call_command("sandbox_reset", url=url, state_file=str(state))
    assert not state.exists()
    with SandboxServer(rate_limits="off", state_file=state) as server:
        assert server.store.persons == {}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "infobip-sandbox-state", "version": 1, "persons": [{"id": 1, "crea', "not valid JSON"),
        (b'{"persons": []}', "not an Infobip sandbox state"),
        (b'{"format": "infobip-sandbox-state", "version": 99}', "state version 99"),
        (b'{"format": "infobip-sandbox-state", "version": 1, "persons": [{"id": 1}]}', "malformed state"),
        (
            json.dumps(
                {
                    "format": "infobip-sandbox-state",
                    "version": 1,
                    "nextIds": {"person": 3, "company": 1, "tag": 1},
                    "persons": [{"id": 1, "externalId": "x", "tags": []}, {"id": 2, "externalId": "x", "tags": []}],
                    **{key: [] for key in ("companies", "personCompany", "tags", "customAttributes", "definitions")},
                    "events": [],
                }
            ).encode(),
            r"identifier \('EXTERNAL_ID', 'x'\) of person 2 belongs to person 1",
        ),
    ],
)
def test_an_unusable_state_file_is_refused_by_name(tmp_path, content, reason):
    state = tmp_path / "state.json"
    state.write_bytes(content)
    with pytest.raises(StateFileError, match=reason) as raised:
        SandboxServer(rate_limits="off", state_file=state)
    assert str(state) in str(raised.value)
    assert "sandbox_reset" in str(raised.value)
    assert state.read_bytes() == content  # left for a person to look at, never overwritten


def test_the_command_exits_with_the_reason_on_an_unusable_state_file(tmp_path):
    state = tmp_path / "state.json"
    state.write_bytes(b'{"format": "infobip-sandbox-st')
    command = [sys.executable, str(PROJECT_ROOT / "manage.py"), "infobip_sandbox", "--port", str(free_port())]
    result = subprocess.run(
        [*command, "--state-file", str(state)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"the sandbox state file {state} is not valid JSON" in result.stderr


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    store = Store()
    store.seed_persons(2)
    save_state(store, state)
    before = state.read_bytes()
    store.seed_persons(2)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_state(store, state)
    assert state.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left behind


def test_without_a_state_file_the_sandbox_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SandboxServer(rate_limits="off") as server:
        server.seed_persons(2)
        assert server.state is None
        assert requests.post(server.url + "/_sandbox/flush", timeout=10).status_code == 409
    assert list(tmp_path.iterdir()) == []


def test_runstack_starts_the_sandbox_with_a_state_file(monkeypatch, settings):
    """``make run`` (runstack) keeps the sandbox's persons across restarts: it passes a state file under var/."""
    from identities.management.commands import runstack

    started = []

    class FakeChild:
        def __init__(self, argv, **kwargs):
            started.append(argv)
            self.pid = 0
            self.returncode = 0

        def poll(self):
            return 0  # exits at once: runstack stops the rest and returns

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(runstack.subprocess, "Popen", FakeChild)
    monkeypatch.setattr(runstack, "call_command", lambda *args, **kwargs: None)
    monkeypatch.setattr(runstack.signal, "signal", lambda *args: None)
    call_command("runstack")
    [sandbox] = [argv for argv in started if "infobip_sandbox" in argv]
    assert sandbox[sandbox.index("--state-file") + 1] == str(settings.BASE_DIR / "var" / "infobip-sandbox-state.json")
    started.clear()
    call_command("runstack", sandbox_state_file="")
    [sandbox] = [argv for argv in started if "infobip_sandbox" in argv]
    assert sandbox[sandbox.index("--state-file") + 1] == ""  # in memory, as before


def test_a_write_whose_response_was_lost_is_kept_across_a_restart(tmp_path):
    """Fault injection stays: "lose" applies the write, drops the response, and the write is in the state."""
    state = tmp_path / "state.json"
    with SandboxServer(rate_limits="off", state_file=state, api_keys=[SANDBOX_API_KEY]) as server:
        server.store.create_tag("VIP")
        server.faults.script("POST /people/2/persons", "lose")
        with pytest.raises(requests.ConnectionError):
            _create(server.url, 1)
        assert server.stats()["faults"]["lost_responses"] == {"POST /people/2/persons": 1}
    with SandboxServer(rate_limits="off", state_file=state) as server:
        assert server.store.find_person("EXTERNAL_ID", "p1")["id"] == 1
