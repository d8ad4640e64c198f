"""`manage.py qcluster`, with a stop that always ends: what `runstack` (make run) starts for each cluster.

django-q2's own SIGTERM handling waits, without a bound, for every worker's current task, and when the signal
reached the whole process group (the workers die at once) its main process waits forever for a sentinel that is
gone. Here SIGTERM/SIGINT ask the cluster to stop gracefully: workers finish the task at hand (each task keeps
to its own budget, e.g. INFOBIP_OUTBOX_TASK_SECONDS); after Q_STOP_SECONDS this process's descendants are
killed. A task cut short leaves its leased outbox rows to be reclaimed when the lease lapses, and its queue
entry to be re-run after Q_CLUSTER's `retry`: nothing is lost, and the process is gone within Q_STOP_SECONDS.
Set Q_CLUSTER_NAME to run one of Q_CLUSTER's ALT_CLUSTERS (the interactive queue).
"""

from __future__ import annotations

import os
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a django-q2 cluster that stops within Q_STOP_SECONDS of SIGTERM (leased rows are reclaimed)."

    def handle(self, *args, **options):
        from django_q.cluster import Cluster

        stopping: list[float] = []

        def stop(signum, frame) -> None:
            if not stopping:
                stopping.append(time.monotonic())

        cluster = Cluster()
        # Before start: Cluster() installed django-q2's own handlers, whose stop joins the sentinel without a bound
        # (it waits for the current task, however long). Cluster.start() returns only after the sentinel set its
        # start event, and by then the pusher may have handed a task to a worker: a SIGTERM in that window reached
        # django-q2's handler and held the process for the whole task.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        cluster.start()
        while not stopping and cluster.sentinel.is_alive():
            time.sleep(0.2)
        if not cluster.sentinel.is_alive():
            return  # the sentinel died with the group's SIGTERM (or of its own accord): nothing left to wait for
        cluster.stop_event.set()  # graceful: no new tasks; the current ones finish
        cluster.sentinel.join(timeout=max(0.0, settings.Q_STOP_SECONDS - (time.monotonic() - stopping[0])))
        if cluster.sentinel.is_alive():
            self.stderr.write(f"the cluster did not stop within {settings.Q_STOP_SECONDS:g} s; killing its workers")
            _kill_descendants()


def _kill_descendants() -> None:
    """SIGKILL every descendant of this process (the sentinel, its workers, pusher and monitor), read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    # pid (comm) state ppid ...; comm may hold spaces, so split after its closing parenthesis
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    doomed, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - doomed
        doomed |= frontier
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
