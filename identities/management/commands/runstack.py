"""Run the whole product in the foreground: Infobip sandbox, the two django-q2 clusters and the web server
(gunicorn, threaded workers a slow client cannot pin: see web_command).

The clusters: `worker` (the default queue: outbox drains and the schedules) and `interactive` (imports, duplicate
scans and sync runs, settings.Q_INTERACTIVE_CLUSTER), so none of them waits behind a push backlog.
Ctrl-C (or any of them exiting) stops all of them: SIGTERM to each process group, SIGKILL 10 s later.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

THREADS = 8
TIMEOUT = 30


def web_command(host: str, port: int, workers: int = 2, threads: int = THREADS) -> list[str]:
    """gunicorn with threaded workers (the README's production command is the same).

    A sync worker is held by one client for the whole request, so two half-sent requests blocked every API
    call for 31 s under `-w 2`. gthread workers wait for a connection's first bytes in a poller (a client that
    sends nothing holds no thread) and serve the rest on a pool of threads: a slow client holds one thread at
    most, the others keep answering. `--timeout` restarts a worker whose threads all hang.
    """
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    return [
        gunicorn, "cdpadmin.wsgi", "-b", f"{host}:{port}", "-k", "gthread", "-w", str(workers),
        "--threads", str(threads), "--timeout", str(TIMEOUT), "--graceful-timeout", str(TIMEOUT),
        "--keep-alive", "5",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Start the Infobip sandbox, the two django-q2 clusters and gunicorn together; Ctrl-C stops them all."

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
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=THREADS, help="threads per gunicorn worker")

    def handle(self, *args, host, port, sandbox_port, no_sandbox, sandbox_state_file, workers, threads, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands: list[tuple[str, list[str], dict[str, str]]] = []
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
                    {},
                )
            )
        commands.append(("worker", [*manage, "qworker"], {}))
        commands.append(("interactive", [*manage, "qworker"], {"Q_CLUSTER_NAME": settings.Q_INTERACTIVE_CLUSTER}))
        commands.append(("web", [*web_command(host, port, workers, threads), "--access-logfile", "-"], {}))

        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, argv, env in commands:
            children[name] = subprocess.Popen(
                argv, cwd=settings.BASE_DIR, start_new_session=True, env={**os.environ, **env}
            )
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
