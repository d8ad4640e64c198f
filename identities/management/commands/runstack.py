"""Run the whole product in the foreground: Infobip sandbox, django-q2 cluster and the web server.

Ctrl-C (or any of them exiting) stops all of them.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the Infobip sandbox, the django-q2 cluster and gunicorn together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8099)
        parser.add_argument("--no-sandbox", action="store_true", help="Use a real Infobip account instead")
        parser.add_argument(
            "--sandbox-state-file",
            default=str(settings.BASE_DIR / "var" / "infobip-sandbox-state.json"),
            help="the sandbox keeps its persons here across restarts (manage.py sandbox_reset empties it)",
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")

    def handle(self, *args, host, port, sandbox_port, no_sandbox, sandbox_state_file, workers, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands: list[tuple[str, list[str]]] = []
        if not no_sandbox and "infobip_sandbox" in get_commands():
            commands.append(
                (
                    "sandbox",
                    [
                        *manage,
                        "infobip_sandbox",
                        "--port",
                        str(sandbox_port),
                        "--api-key",
                        settings.INFOBIP_API_KEY,
                        "--state-file",
                        sandbox_state_file,
                    ],
                )
            )
        commands.append(("worker", [*manage, "qcluster"]))
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        commands.append(
            (
                "web",
                [gunicorn, "cdpadmin.wsgi", "-b", f"{host}:{port}", "-w", str(workers), "--access-logfile", "-"],
            )
        )

        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, argv in commands:
            children[name] = subprocess.Popen(argv, cwd=settings.BASE_DIR, start_new_session=True)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        self.stdout.write(f"cdpadmin is at http://{host}:{port}/admin/ - Ctrl-C stops everything")
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with {child.returncode}; stopping the rest")
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            for child in children.values():
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            self.stdout.write("stopped")
