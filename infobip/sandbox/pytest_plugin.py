"""pytest fixtures for the Infobip sandbox (registered in tests/conftest.py).

* ``infobip_sandbox`` — a fresh in-process :class:`SandboxServer` per test on a free port, real HTTP,
  rate limits off (``infobip_sandbox.set_rate_limits("real")`` to turn them on), API key
  ``SANDBOX_API_KEY``. Every response it sends is recorded for the session-wide spec conformance check.
* ``infobip_client`` — an :class:`~infobip.client.InfobipClient` for that sandbox with fast retries.
* ``infobip_sandbox_process`` — the ``manage.py infobip_sandbox`` command in a subprocess (one per test
  session, reset before each test), once it answers; ``.url``, ``.api_key``, ``.control(...)``.
* ``infobip_settings`` — Django settings ``INFOBIP_BASE_URL``/``INFOBIP_API_KEY`` pointed at
  ``infobip_sandbox`` (and the realm client cache cleared), for code that uses ``client_for_realm``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from infobip.sandbox.server import ResponseRecorder, SandboxServer

SANDBOX_API_KEY = "sandbox-key"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_RECORDER = ResponseRecorder()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def infobip_response_recorder() -> ResponseRecorder:
    """Every response the in-process sandboxes sent during this session."""
    return _RECORDER


@pytest.fixture
def infobip_sandbox(infobip_response_recorder: ResponseRecorder) -> Iterator[SandboxServer]:
    server = SandboxServer(
        "127.0.0.1", 0, api_keys=[SANDBOX_API_KEY], rate_limits="off", recorder=infobip_response_recorder
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def infobip_client(infobip_sandbox: SandboxServer) -> Iterator[Any]:
    from infobip.client import InfobipClient

    client = InfobipClient(
        infobip_sandbox.url, SANDBOX_API_KEY, timeout=10, max_retries=3, backoff=0.01, backoff_cap=0.05
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def infobip_settings(settings: Any, infobip_sandbox: SandboxServer) -> Iterator[Any]:
    from infobip.client import clear_client_cache

    settings.INFOBIP_BASE_URL = infobip_sandbox.url
    settings.INFOBIP_API_KEY = SANDBOX_API_KEY
    settings.INFOBIP_RATE_LIMITS = "off"
    clear_client_cache()
    yield settings
    clear_client_cache()


@dataclass
class SandboxProcess:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    api_key: str = SANDBOX_API_KEY

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def control(self, method: str, action: str, payload: Any = None) -> Any:
        """Call a /_sandbox/<action> control endpoint; returns its JSON."""
        response = requests.request(method, f"{self.url}/_sandbox/{action}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def reset(self) -> None:
        self.control("POST", "reset")


def start_sandbox_process(*args: str, host: str = "127.0.0.1", timeout: float = 30.0) -> SandboxProcess:
    port = free_port(host)
    command = [
        sys.executable,
        str(PROJECT_ROOT / "manage.py"),
        "infobip_sandbox",
        "--host",
        host,
        "--port",
        str(port),
        "--api-key",
        SANDBOX_API_KEY,
        *args,
    ]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL)
    sandbox = SandboxProcess(process, host, port)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox process exited with {process.returncode}: {' '.join(command)}")
        try:
            if requests.get(f"{sandbox.url}/_sandbox/health", timeout=1).ok:
                return sandbox
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            stop_sandbox_process(sandbox)
            raise RuntimeError(f"sandbox process did not answer within {timeout}s")
        time.sleep(0.1)


def stop_sandbox_process(sandbox: SandboxProcess) -> None:
    sandbox.process.terminate()
    try:
        sandbox.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sandbox.process.kill()
        sandbox.process.wait(timeout=10)


@pytest.fixture(scope="session")
def _infobip_sandbox_process_session() -> Iterator[SandboxProcess]:
    sandbox = start_sandbox_process("--rate-limits", "off")
    try:
        yield sandbox
    finally:
        stop_sandbox_process(sandbox)


@pytest.fixture
def infobip_sandbox_process(_infobip_sandbox_process_session: SandboxProcess) -> SandboxProcess:
    _infobip_sandbox_process_session.reset()
    return _infobip_sandbox_process_session


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any response an in-process sandbox sent does not conform to Infobip's spec."""
    if not _RECORDER.entries or os.environ.get("INFOBIP_SKIP_CONFORMANCE"):
        return
    from infobip.sandbox.conformance import Conformance

    problems = Conformance().check_all(_RECORDER.entries)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        if reporter is not None:
            reporter.write_sep("=", f"Infobip sandbox: {len(problems)} responses do not conform to the spec", red=True)
            for problem in problems[:50]:
                reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(f"Infobip sandbox: {len(_RECORDER.entries)} recorded responses conform to the spec")
