"""Per-batch wall and CPU seconds of a bulk path, and the last-quarter / first-quarter ratio (issue 11), shared by
bench/bulk_paths.py and bench/sync.py. CPU is this process's plus its PostgreSQL backend's, read from /proc (same
machine): the machine's load inflates wall time, not CPU."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _cpu() -> float:
    """This process's CPU seconds plus its PostgreSQL backend's (same machine)."""
    from django.db import connection

    own = resource.getrusage(resource.RUSAGE_SELF)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return own.ru_utime + own.ru_stime + _process_cpu(pid)


class Clock:
    """Marks batch boundaries; each batch's wall and CPU seconds (and those of ``other``, a process such as the
    Infobip sandbox, apart)."""

    def __init__(self, other: int | None = None) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.other_cpu: list[float] = []
        self.other = other
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), _cpu()
        self._other = _process_cpu(self.other) if self.other else 0.0

    def mark(self) -> None:
        wall, cpu = time.perf_counter(), _cpu()
        self.wall.append(wall - self._wall)
        self.cpu.append(cpu - self._cpu)
        self._wall, self._cpu = wall, cpu
        if self.other:
            other = _process_cpu(self.other)
            self.other_cpu.append(other - self._other)
            self._other = other


def quarter_ratio(times: list[float]) -> float:
    """Mean of the last quarter's batches over the first quarter's (the first batch left out when there are
    enough: it fills empty tables)."""
    body = times[1:] if len(times) >= 5 else times
    quarter = max(len(body) // 4, 1)
    first = sum(body[:quarter]) / quarter
    return (sum(body[-quarter:]) / quarter) / first if first else float("nan")


def quarter_means(times: list[float]) -> tuple[float, float]:
    """The first and the last quarter's mean batch (as quarter_ratio counts them)."""
    body = times[1:] if len(times) >= 5 else times
    quarter = max(len(body) // 4, 1)
    return sum(body[:quarter]) / quarter, sum(body[-quarter:]) / quarter


def report(label: str, clock: Clock) -> None:
    print(f"{label}: {len(clock.wall)} batches, {sum(clock.wall):.1f} s wall, {sum(clock.cpu):.1f} s CPU")
    print("  per batch wall (s): " + " ".join(f"{t:.2f}" for t in clock.wall))
    print("  per batch CPU (s):  " + " ".join(f"{t:.2f}" for t in clock.cpu))
    if clock.other_cpu:
        print("  per batch CPU of the sandbox (s): " + " ".join(f"{t:.2f}" for t in clock.other_cpu))
        print(f"  its last quarter / first quarter: {quarter_ratio(clock.other_cpu):.2f}x")
    print(f"  last quarter / first quarter: wall {quarter_ratio(clock.wall):.2f}x, CPU {quarter_ratio(clock.cpu):.2f}x"
          "   (aim: at most 1.5x)", flush=True)  # fmt: skip
