"""The analysis's live progress: written on a connection of its own (autocommit), read by the wizard's poll.

The analysis runs in one transaction holding its job row FOR UPDATE, so nothing it writes there shows before it
ends; ``AnalysisProgress`` rows are written beside it by a second connection, at most every ``EVERY_SECONDS``.
Invariants: a failure to write progress never fails the analysis; the row is deleted when the analysis ends.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from imports.models import AnalysisProgress

log = logging.getLogger(__name__)
EVERY_SECONDS = 0.5
PHASES = {
    "reading": "Reading and validating rows",
    "grouping": "Finding duplicates in the file",
    "matching": "Matching existing persons",
}


def expected_rows(path: Path, file_format: str) -> int:
    """About how many rows a CSV holds (its line breaks, less the header); 0 for a workbook (unknown)."""
    if file_format != "csv":
        return 0
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


class Writer:
    """``update(rows, phase)`` as the analysis goes; ``close()`` at its end (deletes the row)."""

    def __init__(self, job_id: int, rows_expected: int) -> None:
        self.job_id, self.rows_expected = job_id, rows_expected
        self.connection = None
        self.last = 0.0
        self.phase = ""
        try:
            self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        except Exception:  # progress is best effort: never fails the analysis
            log.exception("analysis progress of import %s: no connection", job_id)

    def _execute(self, sql: str, params: list[Any]) -> None:
        if self.connection is None:
            return
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
        except DatabaseError:
            log.warning("analysis progress of import %s not written", self.job_id, exc_info=True)
            self.close()

    def update(self, rows: int, phase: str = "reading") -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < EVERY_SECONDS:
            return
        self.last, self.phase = now, phase
        self._execute(
            "INSERT INTO imports_analysisprogress (job_id, rows_read, rows_expected, phase, updated) "
            "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (job_id) DO UPDATE SET rows_read = EXCLUDED.rows_read, "
            "rows_expected = EXCLUDED.rows_expected, phase = EXCLUDED.phase, updated = EXCLUDED.updated",
            [self.job_id, rows, max(self.rows_expected, rows), phase],
        )

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM imports_analysisprogress WHERE job_id = %s", [self.job_id])
        except DatabaseError:
            log.warning("analysis progress of import %s not deleted", self.job_id, exc_info=True)
        finally:
            connection.close()


def analysis_progress(job_id: int) -> dict[str, Any] | None:
    """What the running analysis has read so far, or None (not started, or over)."""
    row = AnalysisProgress.objects.filter(job_id=job_id).first()
    if row is None:
        return None
    expected = row.rows_expected
    percent = min(99.0, round(100 * row.rows_read / expected, 1)) if expected else 0.0
    if row.phase != "reading":
        percent = 99.0 if expected else 0.0
    return {
        "rows_read": row.rows_read,
        "rows_expected": expected,
        "percent": percent,
        "phase": row.phase,
        "phase_display": PHASES.get(row.phase, row.phase),
    }
