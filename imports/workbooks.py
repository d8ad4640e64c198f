"""Reading a workbook without letting it take the process down.

Before anything parses an xlsx, `check_xlsx_container` scans its zip in bounded chunks: the number of parts,
their unpacked size and ratio, DOCTYPE/ENTITY declarations, each sheet's declared dimensions, and formulas
without a saved value. Then python-calamine reads it in a child process (workbook_child.py) under memory
(RLIMIT_AS), CPU (RLIMIT_CPU) and wall-clock limits; its failure, crash or kill becomes a FileRefused that
names the problem. Nothing here parses workbook XML in the calling process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.conf import settings

from imports import workbook_child
from imports.refusals import MSG_EMPTY, MSG_NOT_EXCEL, MSG_ZIP_BOMB, FileRefused, mb

XLSX_MAX_UNCOMPRESSED = 400 * 1024 * 1024
XLSX_MAX_PARTS = 2000  # a workbook with a sheet per person has a few hundred parts; more is an attack
XLSX_MAX_RATIO = 500  # sheet XML full of empty styled cells reaches ~100:1; deflate tops out near 1000:1
XLSX_RATIO_FLOOR = 1024 * 1024  # small parts (styles, empty sheets) compress absurdly well and cost nothing
CHILD_SCRIPT = Path(__file__).with_name("workbook_child.py")

MSG_SHEETS = "The workbook has data on {count} sheets ({names}): keep the people on one sheet and upload again."
MSG_FORMULAS = (
    "The workbook has formulas without a saved result (cells {cells}): open it in Excel or LibreOffice, "
    "save it, and upload it again."
)
MSG_XLSX_PARTS = "The workbook is made of {count} parts (at most {limit}); it is not a spreadsheet we can read."
MSG_XLSX_RATIO = "The workbook's part {part} is compressed {ratio:.0f}:1, which only zip bombs are; refused."
MSG_XLSX_ENTITIES = (
    "The workbook's part {part} declares a DOCTYPE or XML entities, which Excel never writes (an entity bomb?); "
    "refused."
)
MSG_XLSX_DIMENSION = (
    "The workbook's sheet declares the range {ref} ({cells:,} cells, at most {limit:,}); save just the used "
    "range and upload again."
)
MSG_READER_ERROR = "{name!r} is not a readable Excel workbook: {problem}"
MSG_READER_TIMEOUT = "Reading {name!r} took longer than {seconds} seconds; it was stopped and refused."
MSG_READER_CRASH = (
    "Reading {name!r} needed more than {limit:g} MB of memory or crashed the reader (exit {status}); refused."
)


def check_xlsx_container(path: Path, name: str) -> None:
    """Bound what reading an xlsx (a zip of XML parts) can cost, without parsing it: the number of parts, their
    unpacked size and compression ratio, DOCTYPE/ENTITY declarations (entity bombs), each sheet's declared
    dimensions, and formulas that carry no saved result. Each XML part is streamed once, in chunks."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise FileRefused(MSG_NOT_EXCEL.format(name=name), code="not_excel") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > XLSX_MAX_PARTS:
            raise FileRefused(MSG_XLSX_PARTS.format(count=len(infos), limit=XLSX_MAX_PARTS), code="zip_bomb")
        if sum(info.file_size for info in infos) > XLSX_MAX_UNCOMPRESSED:
            raise FileRefused(MSG_ZIP_BOMB.format(limit=mb(XLSX_MAX_UNCOMPRESSED), name=name), code="zip_bomb")
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > XLSX_RATIO_FLOOR and ratio > XLSX_MAX_RATIO:
                raise FileRefused(MSG_XLSX_RATIO.format(part=info.filename, ratio=ratio), code="zip_bomb")
        missing: list[str] = []
        try:
            for info in infos:
                if info.filename.endswith((".xml", ".rels", ".vml")):
                    missing += _scan_xml_part(archive, info)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error):
            raise FileRefused(MSG_NOT_EXCEL.format(name=name), code="not_excel") from None
        if missing:
            raise FileRefused(MSG_FORMULAS.format(cells=", ".join(missing[:5])), code="formulas")


_CELL_WITH_FORMULA = re.compile(rb"<c\b([^>]*)>(.*?)</c>", re.S)
_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*\bref="([A-Za-z]*)([0-9]*)(?::([A-Za-z]*)([0-9]*))?"')
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_CHUNK = 4 * 1024 * 1024


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + (letter - 64)
    return number


def _declared_cells(match: re.Match) -> int:
    first_col, first_row, last_col, last_row = match.groups()
    if last_col is None:
        return 1
    rows = int(last_row or 1_048_576) - int(first_row or 1) + 1
    cols = _column_number(last_col or b"XFD") - _column_number(first_col or b"A") + 1
    return max(rows, 1) * max(cols, 1)


def _scan_xml_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[str]:
    """Refuse declarations and oversized dimensions in one part; return a worksheet's formulas without a value."""
    is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
    missing: list[str] = []
    tail = b""
    first = True
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            data = tail + chunk
            if _DECLARATION.search(data):
                raise FileRefused(MSG_XLSX_ENTITIES.format(part=info.filename), code="xml_entities")
            if is_sheet and first and (dimension := _DIMENSION.search(data)):
                cells = _declared_cells(dimension)
                if cells > settings.IMPORT_WORKBOOK_MAX_CELLS:
                    ref = dimension.group(0).rsplit(b'"', 2)[-2].decode("ascii", "replace")
                    raise FileRefused(
                        MSG_XLSX_DIMENSION.format(ref=ref, cells=cells, limit=settings.IMPORT_WORKBOOK_MAX_CELLS),
                        code="dimension",
                    )
            first = False
            if not is_sheet or len(missing) >= 5 or b"<f" not in data:
                tail = data[-16:]
                continue
            # Only complete cells are examined; the unfinished end carries over to the next chunk.
            cut = data.rfind(b"</c>")
            cut = len(data) if cut < 0 else cut + 4
            for match in _CELL_WITH_FORMULA.finditer(data[:cut]):
                body = match.group(2)
                if (b"<f>" in body or b"<f " in body) and (b"<v>" not in body or b"<v></v>" in body):
                    ref = _REF.search(match.group(1))
                    missing.append(ref.group(1).decode() if ref else "?")
                    if len(missing) >= 5:
                        break
            tail = data[cut:][-64 * 1024 :] if cut < len(data) else b""
    return missing


# The reader runs in a child process (workbook_child.py) with memory and CPU limits; what it can do to the
# caller is bounded: a failure, a crash or a kill becomes a FileRefused naming the problem.


def _child_command(command: str, path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(CHILD_SCRIPT),
        str(settings.IMPORT_WORKBOOK_MEMORY_BYTES),
        str(settings.IMPORT_WORKBOOK_CPU_SECONDS),
        command,
        str(path),
        *extra,
    ]


def _child_refusal(process: subprocess.Popen, stderr: bytes, name: str, *, timed_out: bool) -> FileRefused:
    seconds = settings.IMPORT_WORKBOOK_SECONDS
    if timed_out:
        return FileRefused(MSG_READER_TIMEOUT.format(name=name, seconds=seconds), code="reader_timeout")
    status = process.returncode
    report: dict = {}
    for line in reversed(stderr.decode("utf-8", "replace").splitlines()):
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                continue
            break
    if status == workbook_child.EXIT_READER_ERROR and report.get("kind") != "MemoryError":
        problem = f"{report.get('kind', 'error')}: {report.get('message', '')}".strip()
        return FileRefused(MSG_READER_ERROR.format(name=name, problem=problem[:300]), code="not_excel")
    if status == -signal.SIGXCPU:  # RLIMIT_CPU: the reader computed for longer than allowed
        cpu = settings.IMPORT_WORKBOOK_CPU_SECONDS
        return FileRefused(MSG_READER_TIMEOUT.format(name=name, seconds=cpu), code="reader_timeout")
    memory = settings.IMPORT_WORKBOOK_MEMORY_BYTES
    return FileRefused(MSG_READER_CRASH.format(name=name, limit=mb(memory), status=status), code="reader_crash")


def _child_lines(command: str, path: Path, name: str, *extra: str) -> Iterator[bytes]:
    """The child's stdout, line by line; a failure of the child is raised as FileRefused after its last line.

    The wall-clock limit covers the parse (until the first line arrives): after that the child only waits for
    the caller to read, which RLIMIT_CPU does not count. Closing the iterator early kills the child."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            _child_command(command, path, *extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "RUST_BACKTRACE": "0"},
        )
        started = threading.Event()
        timed_out = threading.Event()

        def watchdog() -> None:
            if not started.wait(settings.IMPORT_WORKBOOK_SECONDS) and process.poll() is None:
                timed_out.set()
                process.kill()

        threading.Thread(target=watchdog, daemon=True).start()
        finished = False
        try:
            for line in process.stdout:
                started.set()
                yield line
            finished = True
        finally:
            started.set()
            if not finished:
                process.kill()
            process.stdout.close()
            process.wait()
        if process.returncode != 0:
            stderr.seek(0)
            raise _child_refusal(process, stderr.read(64 * 1024), name, timed_out=timed_out.is_set())


@dataclass
class WorkbookChoice:
    sheet_name: str
    notes: list[str] = field(default_factory=list)


def choose_sheet(path: Path, name: str) -> WorkbookChoice:
    """The workbook's one visible sheet with data (read in the child); none or several are refused."""
    lines = list(_child_lines("inspect", path, name))
    found = json.loads(lines[-1]) if lines else {"with_data": [], "notes": []}
    with_data = found["with_data"]
    if not with_data:
        raise FileRefused(MSG_EMPTY, code="empty")
    if len(with_data) > 1:
        names = ", ".join(repr(sheet_name) for _, sheet_name in with_data)
        raise FileRefused(MSG_SHEETS.format(count=len(with_data), names=names), code="sheets")
    return WorkbookChoice(with_data[0][1], found["notes"])


def workbook_rows(path: Path, sheet_name: str) -> Iterator[list[str]]:
    lines = _child_lines("rows", path, path.name, *([sheet_name] if sheet_name else []))
    try:
        for line in lines:
            yield orjson.loads(line)
    finally:
        lines.close()
