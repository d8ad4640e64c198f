"""``manage.py infobip_sandbox``: run the Infobip People API sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from infobip.contract.limits import parse_rate_mode
from infobip.sandbox import FaultConfig, SandboxServer, StoreOptions
from infobip.sandbox.persistence import StateFileError


def _rate(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Run a local Infobip People API sandbox (in memory or kept in a state file; rate limits, faults)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8099)
        parser.add_argument(
            "--api-key",
            action="append",
            dest="api_keys",
            default=[],
            help="accept only these `App` keys (repeatable); without any, every non-empty key is accepted",
        )
        parser.add_argument(
            "--rate-limits",
            default="real",
            help="off | real | <multiplier> of Infobip's published per-second limits (0.5 = half, tighter)",
        )
        parser.add_argument("--error-rate", type=_rate, default=0.0, help="share of requests answered 500/503")
        parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
        parser.add_argument("--drop-rate", type=_rate, default=0.0, help="share of connections dropped unanswered")
        parser.add_argument(
            "--lose-create-rate", type=_rate, default=0.0, help="share of creates committed whose response is lost"
        )
        parser.add_argument("--retry-after", type=float, default=None, help="send Retry-After (s) with 429s")
        parser.add_argument("--seed", type=int, default=None, help="seed for reproducible random faults")
        parser.add_argument(
            "--seed-persons",
            type=int,
            default=0,
            help="load N generated persons at start (not onto a state file's persons)",
        )
        parser.add_argument("--auto-create-tags", action="store_true", help="create unknown tags used on persons")
        parser.add_argument("--tags-list-style", choices=("envelope", "array"), default="envelope")
        parser.add_argument(
            "--state-file",
            default=None,
            help="keep the state in this JSON file across restarts (loaded at start, saved atomically); "
            "without it the sandbox forgets everything when it stops",
        )
        parser.add_argument(
            "--state-interval", type=float, default=1.0, help="save the state file at most every N seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            parse_rate_mode(options["rate_limits"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        faults = FaultConfig(
            error_rate=options["error_rate"],
            latency_ms=options["latency_ms"],
            drop_rate=options["drop_rate"],
            lose_create_rate=options["lose_create_rate"],
            seed=options["seed"],
            retry_after=options["retry_after"],
        )
        try:
            server = SandboxServer(
                options["host"],
                options["port"],
                api_keys=options["api_keys"],
                faults=faults,
                rate_limits=options["rate_limits"],
                store_options=StoreOptions(auto_create_tags=options["auto_create_tags"]),
                tags_list_style=options["tags_list_style"],
                state_file=options["state_file"],
                state_interval=options["state_interval"],
            )
        except StateFileError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        if options["seed_persons"] and not server.store.persons:  # a kept state is not seeded again
            server.seed_persons(options["seed_persons"])

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        keys = ", ".join(options["api_keys"]) or "any non-empty key"
        if server.state is not None:
            self.stdout.write(f"state file {server.state.path}: {len(server.store.persons)} persons")
        self.stdout.write(f"Infobip sandbox listening on {server.url} (App keys: {keys}; Ctrl-C to stop)")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Infobip sandbox stopped")
