"""``manage.py sandbox_reset``: empty the Infobip sandbox, a running one (control API) or a stopped one (state file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Empty the Infobip sandbox: POST /_sandbox/reset to a running one, or remove a stopped one's state file."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8099", help="the running sandbox")
        parser.add_argument("--state-file", default=None, help="the state file to remove when none is running")

    def handle(self, *args: Any, url: str, state_file: str | None, **options: Any) -> None:
        try:
            response = requests.post(f"{url.rstrip('/')}/_sandbox/reset", timeout=30)
        except requests.ConnectionError:
            response = None
        if response is not None:
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code} to the reset: {response.text[:200]}")
            self.stdout.write(f"reset the sandbox at {url} (its state file too, if it has one)")
            return
        if not state_file:
            raise CommandError(f"no sandbox answers at {url}; pass --state-file to empty a stopped one")
        path = Path(state_file)
        path.unlink(missing_ok=True)
        self.stdout.write(f"no sandbox at {url}; removed {path}: the next start is empty")
