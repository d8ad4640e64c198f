"""The Infobip sandbox server: a real HTTP/1.1 keep-alive server in front of the in-memory store.

    server = SandboxServer("127.0.0.1", 0, api_keys=["secret"], rate_limits="off").start()
    server.url                      # http://127.0.0.1:<port>
    server.store                    # the in-memory state (persons, companies, ...)
    server.faults.configure(error_rate=0.2, seed=1)   # or POST /_sandbox/faults
    server.faults.script("POST /people/2/persons", "lose")
    server.stats()                  # calls per endpoint, statuses, faults, effects (or GET /_sandbox/stats)
    server.stop()

With ``state_file=Path(...)`` the state survives restarts: it is loaded at construction (a bad file raises
``StateFileError``), saved in the background at most every ``state_interval`` seconds when it changed, on
``reset()`` and on shutdown (``persistence.py``). Without it the state lives in memory only.

Control endpoints (no auth, never faulted, never rate limited): ``GET /_sandbox/health``,
``GET /_sandbox/stats``, ``POST /_sandbox/reset``, ``POST /_sandbox/flush`` (save the state file now),
``GET|POST|DELETE /_sandbox/faults``,
``POST /_sandbox/ratelimits`` ``{"mode": "off"|"real"|<multiplier>}``, ``POST /_sandbox/seed``
``{"count": N, "prefix": "seed", "tags": [...]}`` or ``{"persons": [<person JSON>, ...]}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infobip.contract.limits import parse_rate_mode
from infobip.sandbox import handlers as h
from infobip.sandbox import store as st
from infobip.sandbox.faults import FaultConfig, FaultInjector
from infobip.sandbox.persistence import StateKeeper
from infobip.sandbox.ratelimit import SlidingWindowLimiter

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class ResponseRecorder:
    """Keeps (method, path template, status, content type, body) of responses for conformance checks."""

    def __init__(self, max_entries: int = 50_000, max_body: int = 4 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_body = max_body
        self.entries: list[tuple[str, str, int, str, bytes]] = []
        self._lock = threading.Lock()

    def record(self, method: str, template: str, status: int, content_type: str, body: bytes) -> None:
        if len(body) > self.max_body:
            return
        with self._lock:
            if len(self.entries) < self.max_entries:
                self.entries.append((method, template, status, content_type, body))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256
    sandbox: SandboxServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (timed out, closed): nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "InfobipSandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def __getattr__(self, name: str) -> Any:
        """Every other method (TRACE, OPTIONS, HEAD, made-up ones) is routed too, to answer 405 or 404 in
        Infobip's error shape instead of http.server's HTML 501."""
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> tuple[bytes, str]:
        payload = b"" if body is None else body if isinstance(body, bytes) else _dumps(body)
        content_type = "application/json;charset=UTF-8" if payload else ""
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)
        return payload, content_type

    def _drop(self) -> None:
        """Close the connection without sending a single byte back."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(400, h.ApiError(400, "Malformed request body").body())
            return
        if body is None:
            self.close_connection = True
            self._send(413, h.ApiError(413, "Request body too large").body())
            return
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path.startswith("/_sandbox/"):
            status, payload = sandbox._control(self.command, url.path, query, body)
            self._send(status, payload)
            return
        route, params, path_known = sandbox.api.match(self.command, url.path)
        endpoint = route.endpoint if route else f"{self.command} {url.path}"
        arrived = time.monotonic()
        decision = sandbox.faults.decide(endpoint, bool(route and (route.creates or route.method == "POST")))
        sandbox._count(endpoint, arrived)
        if decision.delay_ms:
            if decision.delay_ms > sandbox.faults.config.latency_ms:
                sandbox._count_fault("slowed", endpoint)  # a slow call (slow_rate or a scripted delay)
            time.sleep(decision.delay_ms / 1000)
        if decision.before == "drop":
            sandbox._count_fault("dropped", endpoint)
            self._drop()
            return
        error = self._gate(sandbox, route, endpoint, path_known, decision.before)
        if error is not None:
            sandbox._count_status(endpoint, error.status)  # before sending: a client that has it sees it counted
            payload, content_type = self._send(error.status, error.body(), error.headers)
            sandbox._record(self.command, route, error.status, content_type, payload)
            return
        assert route is not None
        request = h.Request(self.command, url.path, query, body, params, route.family)
        try:
            response = route.handler(request)
        except h.ApiError as exc:
            response = h.Response(exc.status, exc.body(), exc.headers)
        except Exception:
            logger.exception("sandbox handler failed: %s %s", self.command, self.path)
            response = h.Response(500, h.ApiError(500).body())
        if decision.lose:
            sandbox._count_status(endpoint, response.status)
            sandbox._count_fault("lost_responses", endpoint)
            self._drop()
            return
        sandbox._count_status(endpoint, response.status)
        payload, content_type = self._send(response.status, response.body, response.headers)
        sandbox._record(self.command, route, response.status, content_type, payload)

    def _gate(
        self,
        sandbox: SandboxServer,
        route: h.Route | None,
        endpoint: str,
        path_known: bool,
        fault: Any,
    ) -> h.ApiError | None:
        """Auth, routing, rate limit and injected errors, in the order Infobip's edge would apply them."""
        auth = self.headers.get("Authorization") or ""
        scheme, _, key = auth.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "app" or not key or (sandbox.api_keys and key not in sandbox.api_keys):
            return h.ApiError(401)
        if route is None:
            if path_known:
                path = urlsplit(self.path).path
                allow = ", ".join(sandbox.api.methods_for(path))
                return h.ApiError(405, f"Method {self.command} is not allowed on {path}", headers={"Allow": allow})
            return h.ApiError(404, f"No endpoint {urlsplit(self.path).path}")
        wait = sandbox.limiter.check(key, endpoint)
        if wait is not None:
            sandbox._count_fault("rate_limited", endpoint)
            headers = {}
            if sandbox.faults.config.retry_after is not None:
                headers["Retry-After"] = str(max(1, round(sandbox.faults.config.retry_after)))
            return h.ApiError(429, headers=headers)
        if isinstance(fault, tuple):  # scripted ("429", seconds)
            sandbox._count_fault("injected_429", endpoint)
            return h.ApiError(429, headers={"Retry-After": f"{fault[1]:g}"})
        if fault in (429,):
            sandbox._count_fault("injected_429", endpoint)
            return h.ApiError(429)
        if isinstance(fault, int):
            sandbox._count_fault("injected_errors", endpoint)
            return h.ApiError(fault)
        return None


class SandboxServer:
    """An Infobip People API look-alike on ``host:port`` (port 0 = a free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: Iterable[str] | None = None,
        faults: FaultConfig | None = None,
        rate_limits: str | float | None = "real",
        store_options: st.StoreOptions | None = None,
        recorder: ResponseRecorder | None = None,
        tags_list_style: str = "envelope",
        state_file: str | Path | None = None,
        state_interval: float = 1.0,
    ) -> None:
        self.api_keys = frozenset(api_keys or ())
        self.store = st.Store(store_options)
        self.state: StateKeeper | None = None
        if state_file:
            self.state = StateKeeper(self.store, Path(state_file), interval=state_interval)
            self.state.load()
        self.api = h.Api(self.store, tags_list_style=tags_list_style)
        self.faults = FaultInjector(faults or FaultConfig())
        self.limiter = SlidingWindowLimiter(parse_rate_mode(rate_limits))
        self.recorder = recorder
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.connections_opened = 0
        self._stats_lock = threading.Lock()
        self._reset_stats()

    # ----- lifecycle -----

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        if self.state is not None:
            self.state.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="infobip-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until KeyboardInterrupt (used by the management command)."""
        if self.state is not None:
            self.state.start()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._close_connections()
            self._httpd.server_close()
            if self.state is not None:
                self.state.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close_connections()
        self._httpd.server_close()
        if self.state is not None:
            self.state.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
                self.connections_opened += 1
            else:
                self._connections.discard(conn)

    def _close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def drop_connections(self) -> None:
        """Close every open keep-alive connection (clients must reconnect)."""
        self._close_connections()

    # ----- configuration -----

    def reset(self) -> None:
        """Back to an empty sandbox: state (and its file), statistics, faults and rate-limit windows."""
        self.store.reset()
        if self.state is not None:
            self.state.flush(force=True)
        self.faults.clear()
        self.limiter.reset()
        self._reset_stats()

    def set_rate_limits(self, mode: str | float | None) -> None:
        self.limiter.multiplier = parse_rate_mode(mode)
        self.limiter.reset()

    def set_faults(self, **changes: Any) -> FaultConfig:
        return self.faults.configure(**changes)

    def seed_persons(self, count: int, *, prefix: str = "seed", tags: Iterable[str] = ()) -> tuple[int, int]:
        return self.store.seed_persons(count, prefix=prefix, tags=tags)

    def load_persons(self, persons: Iterable[dict[str, Any]]) -> list[int]:
        return self.store.load_persons(persons)

    # ----- statistics -----

    def _reset_stats(self) -> None:
        with self._stats_lock:
            self._calls: Counter[str] = Counter()
            self._statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
            self._faults: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._arrivals: defaultdict[str, list[float]] = defaultdict(list)

    def _count(self, endpoint: str, arrived: float) -> None:
        with self._stats_lock:
            self._calls[endpoint] += 1
            arrivals = self._arrivals[endpoint]
            if len(arrivals) < 1_000_000:
                arrivals.append(arrived)

    def _count_status(self, endpoint: str, status: int) -> None:
        with self._stats_lock:
            self._statuses[endpoint][status] += 1

    def _count_fault(self, kind: str, endpoint: str) -> None:
        with self._stats_lock:
            self._faults[kind][endpoint] += 1

    def _record(self, method: str, route: h.Route | None, status: int, content_type: str, body: bytes) -> None:
        if self.recorder is not None and route is not None:
            self.recorder.record(method, route.template, status, content_type, body)

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                "calls": dict(self._calls),
                "statuses": {k: {str(s): n for s, n in v.items()} for k, v in self._statuses.items()},
                "faults": {k: dict(v) for k, v in self._faults.items()},
                "effects": dict(self.store.effects),
                "state": self.store.snapshot(),
                "connectionsOpened": self.connections_opened,
            }

    def calls(self, endpoint: str) -> int:
        with self._stats_lock:
            return self._calls[endpoint]

    def arrivals(self, endpoint: str) -> list[float]:
        """Monotonic arrival times of requests to ``endpoint`` (rate tests count them per window)."""
        with self._stats_lock:
            return list(self._arrivals.get(endpoint, ()))

    def max_in_window(self, endpoint: str, window: float = 1.0) -> int:
        """The most requests to ``endpoint`` that arrived within any sliding ``window`` seconds."""
        times = sorted(self.arrivals(endpoint))
        best, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ----- control API -----

    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as exc:
            return 400, {"error": f"malformed JSON: {exc}"}
        action = path[len("/_sandbox/") :].strip("/")
        try:
            if action == "health" and method == "GET":
                state_file = str(self.state.path) if self.state else None
                return 200, {"ok": True, "persons": len(self.store.persons), "stateFile": state_file}
            if action == "stats" and method == "GET":
                return 200, self.stats()
            if action == "reset" and method == "POST":
                self.reset()
                return 200, {"ok": True}
            if action == "flush" and method == "POST":
                if self.state is None:
                    return 409, {"error": "this sandbox has no state file (start it with --state-file)"}
                return 200, {"saved": self.state.flush(), "stateFile": str(self.state.path)}
            if action == "faults":
                if method == "DELETE":
                    self.faults.clear()
                elif method == "POST":
                    script = data.pop("script", None) or {}
                    self.faults.configure(FaultConfig.from_json(data))
                    for endpoint, effects in script.items():
                        self.faults.script(endpoint, *[tuple(e) if isinstance(e, list) else e for e in effects])
                elif method != "GET":
                    return 405, {"error": "use GET, POST or DELETE"}
                return 200, {**self.faults.config.to_json(), "script": self.faults.pending()}
            if action == "ratelimits" and method == "POST":
                self.set_rate_limits(data.get("mode"))
                return 200, {"multiplier": self.limiter.multiplier}
            if action == "seed" and method == "POST":
                if "persons" in data:
                    ids = self.load_persons(data["persons"])
                    return 200, {"seeded": len(ids), "ids": ids}
                count = int(data.get("count", 0))
                first, last = self.seed_persons(count, prefix=data.get("prefix", "seed"), tags=data.get("tags", ()))
                return 200, {"seeded": count, "firstId": first, "lastId": last}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}
        except st.StoreError as exc:
            return exc.status, {"error": exc.message, "errors": exc.errors}
        return 404, {"error": f"unknown control endpoint {method} {path}"}
