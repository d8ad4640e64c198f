"""The workbook reader's child process: python-calamine runs here, never in a web or task worker.

Run as `python workbook_child.py <memory bytes> <cpu seconds> inspect|rows <path> [sheet name]`. It lowers its
own memory (RLIMIT_AS) and CPU (RLIMIT_CPU) limits before it imports the reader, so a hostile file can at worst
abort this process. It writes JSON lines on stdout: `inspect` one object (the sheet to read and notes), `rows`
one array of text cells per row. A reader failure is one JSON object on stderr and exit status 3.
Imports nothing from Django: it must start fast and depend on nothing the parent configures.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys

EXIT_READER_ERROR = 3


def cell_text(value) -> str:
    """A workbook cell as the text a user would type: 385991234567 not 385991234567.0, dates as YYYY-MM-DD."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta | dt.time):
        return str(value)
    return str(value)


def choose_sheet(workbook) -> dict:
    """The one visible sheet with data, and notes on the hidden and empty ones ignored."""
    from python_calamine import SheetVisibleEnum

    with_data, notes = [], []
    for index, meta in enumerate(workbook.sheets_metadata):
        sheet = workbook.get_sheet_by_index(index)
        has_data = any(any(cell not in ("", None) for cell in row) for row in sheet.iter_rows())
        if meta.visible != SheetVisibleEnum.Visible:
            if has_data:
                notes.append(f"Hidden sheet {meta.name!r} was ignored.")
            continue
        if has_data:
            with_data.append([index, meta.name])
        else:
            notes.append(f"Empty sheet {meta.name!r} was ignored.")
    return {"with_data": with_data, "notes": notes}


def _limit(kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


def main(argv: list[str]) -> int:
    memory, cpu, command, path = int(argv[0]), int(argv[1]), argv[2], argv[3]
    _limit(resource.RLIMIT_AS, memory)
    _limit(resource.RLIMIT_CPU, cpu)
    _limit(resource.RLIMIT_CORE, 0)
    out = sys.stdout
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_path(path)
        if command == "inspect":
            out.write(json.dumps(choose_sheet(workbook)) + "\n")
        else:
            sheet_name = argv[4] if len(argv) > 4 else ""
            sheet = workbook.get_sheet_by_name(sheet_name) if sheet_name else workbook.get_sheet_by_index(0)
            import orjson  # the project's JSON encoder; several times faster than json for rows of text

            write = out.buffer.write
            for row in sheet.iter_rows():
                write(orjson.dumps([cell_text(cell) for cell in row]) + b"\n")
        out.flush()
    except BrokenPipeError:
        return 0  # the parent read what it needed (a preview) and closed the pipe
    except MemoryError:
        sys.stderr.write(json.dumps({"kind": "MemoryError", "message": "out of memory"}) + "\n")
        return EXIT_READER_ERROR
    except Exception as exc:  # every reader error (CalamineError, XmlError, ZipError, PasswordError ...)
        sys.stderr.write(json.dumps({"kind": type(exc).__name__, "message": str(exc)[:300]}) + "\n")
        return EXIT_READER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
