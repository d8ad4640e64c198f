"""Fault injection: what can go wrong between us and Infobip, on demand and reproducibly.

Random faults are drawn from ``random.Random(seed)``: with a seed, the same sequence of requests meets
the same faults. Scripted faults (``script``) are consumed in order by the next requests to an endpoint
and make a test fully deterministic: ``faults.script("POST /people/2/persons", "lose", "ok")``.

Effects:
* ``"error"`` / ``500`` / ``503``: answer with that status and the spec's classic error body;
* ``429``: answer TOO_MANY_REQUESTS (``("429", seconds)`` adds a ``Retry-After`` header);
* ``"drop"``: close the connection without any response, before doing anything;
* ``"lose"``: do the work (commit the create), then close the connection without a response;
* ``"delay:<ms>"``: add latency to this one request;
* ``"ok"``: behave normally (useful in scripts).

Random: ``error_rate`` (5xx), ``drop_rate``, ``lose_create_rate`` (creates), ``lose_rate`` (any request: handled,
then no response), ``slow_rate`` × ``slow_ms``, ``latency_ms`` on every request.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

Effect = str | int | tuple


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of requests answered 500 or 503
    latency_ms: float = 0.0  # added to every request
    drop_rate: float = 0.0  # share of connections closed without a response, nothing done
    lose_create_rate: float = 0.0  # share of creates (POST, v3 upsert) done, then the response lost
    seed: int | None = None
    endpoints: list[str] | None = None  # restrict random faults to these "METHOD /template" keys
    retry_after: float | None = None  # seconds sent as Retry-After on 429s (None: no header, like Infobip)
    lose_rate: float = 0.0  # share of any requests handled (the write applied), then the response lost
    slow_rate: float = 0.0  # share of requests answered ``slow_ms`` later
    slow_ms: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        names = {
            "errorRate": "error_rate",
            "latencyMs": "latency_ms",
            "dropRate": "drop_rate",
            "loseCreateRate": "lose_create_rate",
            "seed": "seed",
            "endpoints": "endpoints",
            "retryAfter": "retry_after",
            "loseRate": "lose_rate",
            "slowRate": "slow_rate",
            "slowMs": "slow_ms",
        }
        kwargs = {}
        for key, value in data.items():
            attr = names.get(key, key)
            if attr not in cls.__dataclass_fields__:
                raise ValueError(f"unknown fault setting {key!r}")
            kwargs[attr] = value
        config = cls(**kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("error_rate", "drop_rate", "lose_create_rate", "lose_rate", "slow_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if not isinstance(self.latency_ms, int | float) or self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "errorRate": self.error_rate,
            "latencyMs": self.latency_ms,
            "dropRate": self.drop_rate,
            "loseCreateRate": self.lose_create_rate,
            "seed": self.seed,
            "endpoints": self.endpoints,
            "retryAfter": self.retry_after,
            "loseRate": self.lose_rate,
            "slowRate": self.slow_rate,
            "slowMs": self.slow_ms,
        }


@dataclass
class Decision:
    before: Effect | None = None  # "drop", 500, 503, ("429", s) — happens instead of handling
    lose: bool = False  # handle, then drop the connection
    delay_ms: float = 0.0


@dataclass
class FaultInjector:
    config: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)
        self._scripts: dict[str, deque[Effect]] = {}

    def configure(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the random-fault settings (keyword arguments change single settings); reseeds."""
        with self._lock:
            base = config or self.config
            if changes:
                base = FaultConfig(**{**base.__dict__, **changes})
            base.validate()
            self.config = base
            self._random = random.Random(base.seed)
            return base

    def script(self, endpoint: str, *effects: Effect) -> None:
        """Queue effects for the next requests to ``endpoint`` ("POST /people/2/persons", or "*" for any)."""
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).extend(effects)

    def clear(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self._random = random.Random(None)
            self._scripts.clear()

    def pending(self) -> dict[str, list[Effect]]:
        with self._lock:
            return {k: list(v) for k, v in self._scripts.items() if v}

    def decide(self, endpoint: str, is_create: bool) -> Decision:
        with self._lock:
            decision = Decision(delay_ms=self.config.latency_ms)
            for key in (endpoint, "*"):
                queue = self._scripts.get(key)
                if queue:
                    self._apply(decision, queue.popleft())
                    return decision
            config = self.config
            if config.endpoints and endpoint not in config.endpoints:
                return decision
            rnd = self._random
            if config.drop_rate and rnd.random() < config.drop_rate:
                decision.before = "drop"
            elif config.error_rate and rnd.random() < config.error_rate:
                decision.before = rnd.choice((500, 503))
            else:
                lose_create = is_create and config.lose_create_rate and rnd.random() < config.lose_create_rate
                decision.lose = bool(lose_create or (config.lose_rate and rnd.random() < config.lose_rate))
            if config.slow_rate and rnd.random() < config.slow_rate:
                decision.delay_ms += config.slow_ms
            return decision

    @staticmethod
    def _apply(decision: Decision, effect: Effect) -> None:
        if effect in ("ok", None):
            return
        if effect == "lose":
            decision.lose = True
        elif effect == "drop":
            decision.before = "drop"
        elif effect == "error":
            decision.before = 500
        elif isinstance(effect, str) and effect.startswith("delay:"):
            decision.delay_ms += float(effect.split(":", 1)[1])
        elif isinstance(effect, int) or (isinstance(effect, str) and effect.isdigit()):
            decision.before = int(effect)
        elif isinstance(effect, tuple | list) and effect and str(effect[0]) == "429":
            decision.before = ("429", float(effect[1]))
        else:
            raise ValueError(f"unknown fault effect {effect!r}")
