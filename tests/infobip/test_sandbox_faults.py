"""The sandbox over real HTTP: keep-alive, rate limits, fault injection, the management command."""

import pytest
import requests

from infobip.sandbox import FaultConfig, FaultInjector
from tests.infobip.sandbox_support import Api, P, by_ext, service_exception


@pytest.fixture
def api(infobip_sandbox):
    return Api(infobip_sandbox)


# --- keep-alive, rate limits, faults -------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(api, infobip_sandbox):
    for _ in range(20):
        assert api.get(P).status_code == 200
    assert infobip_sandbox.connections_opened == 1


def test_rate_limits_answer_429_in_the_classic_family(api, infobip_sandbox):
    infobip_sandbox.set_rate_limits("real")
    statuses = [api.get(P).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    response = api.get(P)
    assert response.status_code == 429
    assert service_exception(response) == {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}
    assert "Retry-After" not in response.headers
    assert api.post(P, json={}).status_code == 200  # limits are per endpoint
    assert infobip_sandbox.stats()["faults"]["rate_limited"]["GET /people/2/persons"] >= 3


def test_rate_limit_multiplier_and_retry_after(api, infobip_sandbox):
    infobip_sandbox.set_rate_limits(0.4)  # 5/s * 0.4 = 2/s
    infobip_sandbox.set_faults(retry_after=1)
    statuses = [api.get(P).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert api.get(P).headers["Retry-After"] == "1"
    infobip_sandbox.set_rate_limits("off")
    assert all(api.get(P).status_code == 200 for _ in range(10))


def test_error_rate_answers_500_or_503_with_classic_bodies(api, infobip_sandbox):
    infobip_sandbox.set_faults(error_rate=1.0, seed=1)
    responses = [api.get(P) for _ in range(10)]
    assert {r.status_code for r in responses} == {500, 503}
    ids = {service_exception(r)["messageId"] for r in responses}
    assert ids == {"GENERAL_ERROR", "SERVICE_UNAVAILABLE"}
    assert infobip_sandbox.stats()["faults"]["injected_errors"]["GET /people/2/persons"] == 10


def test_dropped_connection_sends_nothing(api, infobip_sandbox):
    infobip_sandbox.faults.script("POST /people/2/persons", "drop")
    with pytest.raises(requests.ConnectionError):
        api.post(P, json={"externalId": "a"})
    assert infobip_sandbox.store.find_person("EXTERNAL_ID", "a") is None
    assert api.post(P, json={"externalId": "a"}).status_code == 200  # the next request goes through


def test_lost_create_response_commits_the_create(api, infobip_sandbox):
    infobip_sandbox.set_faults(lose_create_rate=1.0, endpoints=["POST /people/2/persons"])
    with pytest.raises(requests.ConnectionError):
        api.post(P, json={"externalId": "a"})
    assert infobip_sandbox.store.find_person("EXTERNAL_ID", "a") is not None
    stats = infobip_sandbox.stats()
    assert stats["effects"]["persons_created"] == 1
    assert stats["faults"]["lost_responses"]["POST /people/2/persons"] == 1
    assert api.get(P, params=by_ext("a")).status_code == 200  # reads are not "creates"


def test_latency_is_added(api, infobip_sandbox):
    infobip_sandbox.set_faults(latency_ms=1500)
    with pytest.raises(requests.Timeout):
        api.get(P, timeout=0.2)


def test_faults_via_the_control_endpoint(api, infobip_sandbox):
    config = requests.post(
        infobip_sandbox.url + "/_sandbox/faults",
        json={"errorRate": 0.5, "seed": 7, "script": {"GET /people/2/persons": [503, ["429", 2]]}},
        timeout=10,
    ).json()
    assert config["errorRate"] == 0.5
    assert config["script"] == {"GET /people/2/persons": [503, ["429", 2]]}
    assert api.get(P).status_code == 503
    limited = api.get(P)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert requests.post(infobip_sandbox.url + "/_sandbox/faults", json={"errorRate": 2}, timeout=10).status_code == 400
    assert requests.delete(infobip_sandbox.url + "/_sandbox/faults", timeout=10).json()["errorRate"] == 0


def test_seeded_faults_are_deterministic():
    def outcomes(seed):
        injector = FaultInjector(FaultConfig(error_rate=0.3, drop_rate=0.1, lose_create_rate=0.2, seed=seed))
        return [injector.decide("POST /people/2/persons", True) for _ in range(200)]

    assert outcomes(42) == outcomes(42)
    assert outcomes(42) != outcomes(43)
    kinds = {(d.before, d.lose) for d in outcomes(42)}
    assert {("drop", False), (None, True), (None, False)} <= kinds


def test_sandbox_process_runs_the_management_command(infobip_sandbox_process):
    session = requests.Session()
    session.headers["Authorization"] = f"App {infobip_sandbox_process.api_key}"
    url = infobip_sandbox_process.url
    assert session.post(url + P, json={"externalId": "p"}, timeout=10).status_code == 200
    assert session.get(url + P, params=by_ext("p"), timeout=10).json()["externalId"] == "p"
    assert requests.get(url + P, headers={"Authorization": "App other"}, timeout=10).status_code == 401
    assert infobip_sandbox_process.stats()["calls"]["POST /people/2/persons"] == 1
    infobip_sandbox_process.control("POST", "faults", {"script": {"GET /people/2/persons": ["drop"]}})
    with pytest.raises(requests.ConnectionError):
        session.get(url + P, timeout=10)


def test_slow_calls_are_counted(infobip_sandbox, infobip_client):
    infobip_sandbox.faults.script("GET /people/2/persons", "delay:5", "ok")
    infobip_client.find_person("EXTERNAL_ID", "nobody")
    infobip_client.find_person("EXTERNAL_ID", "nobody")
    assert infobip_sandbox.stats()["faults"]["slowed"] == {"GET /people/2/persons": 1}
