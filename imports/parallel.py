"""The analysis's per-row work (parse, validate, normalise: phonenumbers is most of it) on every core.

A large CSV is parsed by forked workers that never touch the database: worker k reads the file itself and
parses the chunks k, k + W, k + 2W … of it, sending each chunk's results down its own pipe; the caller reads
the chunks back in file order, so what it sees is exactly what the serial path yields. The parent only
reads, never writes to a worker (no pipe can deadlock). os.fork, not multiprocessing.Process: a django-q2
worker is a daemonic process, which multiprocessing forbids to have children.

Invariants: results come in file order; a worker's failure (a refused file) is raised in the caller; small
files, workbooks and single-core machines take the serial path.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
from collections.abc import Iterator
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

from imports import readers
from imports.parsing import RowParser

PARALLEL_MIN_BYTES = 2 * 1024 * 1024  # below this, forking costs more than it saves
CHUNK_ROWS = 2000
MAX_WORKERS = 4

_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode  # json.dumps's text, less overhead
# (row number, cells of an invalid row or None, staged JSON of a valid row or None, its keys or the problems)
Result = tuple[int, list[str] | None, str | None, list]


def _one(parser: RowParser, number: int, cells: list[str]) -> Result:
    parsed, problems = parser.parse(number, cells)
    if parsed is None:
        return number, cells, None, problems
    return number, None, _encode(parsed.data), parsed.keys


def workers_for(path: Path, info: readers.TableInfo) -> int:
    if info.file_format != "csv" or path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def parsed_rows(parser: RowParser, rows: Iterator, path: Path, info: readers.TableInfo) -> Iterator[Result]:
    """Every row of ``rows`` (the file's body, in order) parsed; on several cores the file is re-read by workers."""
    workers = workers_for(path, info)
    if workers == 1:
        for number, cells in rows:
            yield _one(parser, number, cells)
        return
    yield from _parallel(parser, path, info, workers)


def _worker(index: int, workers: int, parser: RowParser, path: Path, info: readers.TableInfo, out: Connection):
    chunk: list[Result] = []
    try:
        _, rows = readers.table_rows(path, info)
        for position, (number, cells) in enumerate(rows):
            if (position // CHUNK_ROWS) % workers != index:
                continue
            chunk.append(_one(parser, number, cells))
            if len(chunk) == CHUNK_ROWS:
                out.send(("rows", chunk))
                chunk = []
        if chunk:
            out.send(("rows", chunk))
        out.send(("end", None))
    except BaseException as exc:  # handed to the parent, which raises it
        try:
            pickle.dumps(exc)
            out.send(("error", exc))
        except Exception:
            out.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _parallel(parser: RowParser, path: Path, info: readers.TableInfo, workers: int) -> Iterator[Result]:
    pids, inputs = [], []
    try:
        for index in range(workers):
            receive, send = Pipe(duplex=False)
            pid = os.fork()
            if pid == 0:  # the worker: parse its chunks, then leave without running any of the parent's cleanup
                code = 0
                try:
                    receive.close()
                    # What the parent built is never garbage here: keep the collector from walking it again
                    # and again (every full collection would, with the rows' containers filling gen 0).
                    gc.freeze()
                    _worker(index, workers, parser, path, info, send)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            send.close()
            pids.append(pid)
            inputs.append(receive)
        chunk = 0
        while True:
            kind, payload = inputs[chunk % workers].recv()
            if kind == "error":
                raise payload
            if kind == "end":
                return
            yield from payload
            chunk += 1
    finally:
        for connection in inputs:
            connection.close()  # a worker still sending gets a broken pipe and exits
        for pid in pids:
            os.waitpid(pid, 0)
