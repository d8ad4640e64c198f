"""Issue 16: two half-sent requests must not block the web tier (they did for 31 s under sync workers).

Starts gunicorn exactly as `make run` (runstack.web_command) with ONE worker, pins two connections with
half-sent requests, and asks for a page meanwhile. The bounded client timeout is a hang guard, not a measure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
import requests

from identities.management.commands.runstack import web_command
from infobip.sandbox.pytest_plugin import PROJECT_ROOT, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def web():
    port = free_port()
    env = {**os.environ, "DEVELOPMENT": "true", "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        web_command("127.0.0.1", port, workers=1), cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(url + "/v1/identities", timeout=20)
                break
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None:
                    pytest.fail(process.stderr.read().decode()[-2000:])
                time.sleep(0.1)
        yield url, port
    finally:
        process.terminate()
        process.wait(30)


def half_sent(port: int, *, with_body: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    if with_body:  # headers complete, the body promised but never sent
        sock.sendall(b"POST /v1/identities HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
    else:  # headers never finished
        sock.sendall(b"GET /v1/identities HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def test_two_half_sent_requests_do_not_block_other_requests(web):
    url, port = web
    slow = [half_sent(port, with_body=False), half_sent(port, with_body=True)]
    try:
        time.sleep(0.5)  # let the worker pick both up
        for _ in range(5):
            response = requests.get(url + "/v1/identities", timeout=10)
            assert response.status_code == 401
            assert response.json()["type"] == "unauthorized"
    finally:
        for sock in slow:
            sock.close()


def test_sync_workers_would_be_blocked_by_them():
    """The control: the same attack against a sync worker leaves a request unanswered (so the test above can fail)."""
    port = free_port()
    command = [part if part != "gthread" else "sync" for part in web_command("127.0.0.1", port, workers=1, threads=1)]
    env = {**os.environ, "DEVELOPMENT": "true", "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                requests.get(f"http://127.0.0.1:{port}/v1/identities", timeout=20)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        slow = half_sent(port, with_body=False)
        time.sleep(0.5)
        with pytest.raises(requests.Timeout):
            requests.get(f"http://127.0.0.1:{port}/v1/identities", timeout=3)
        slow.close()
    finally:
        process.kill()
        process.wait(30)
