"""Reading uploaded tables: checks on the container (size, zip safety), format and encoding detection, the
delimiter, and a row iterator that streams text cells whatever the format.

Choices where the issue is silent (also shown to the user where they apply):
- The format comes from the bytes, not the name: a `.csv` that is really a zip or an Excel file is refused.
- A zip must hold exactly one `.csv/.txt/.xls/.xlsx` file; folders and macOS `__MACOSX/` metadata are ignored.
- A workbook is read from its one sheet holding data. Hidden and empty sheets are ignored (and named in the
  notes); two or more visible sheets with data are refused rather than guessed between.
- Formula cells are imported as the value Excel computed and saved with the file, never as formula text. A
  workbook whose formulas carry no saved value (written by a program that does not calculate) is refused,
  naming the cells, rather than imported with those cells empty.
- Rows are numbered as a spreadsheet shows them: the header is row 1 (after leading empty lines).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from imports import workbooks
from imports.refusals import MSG_EMPTY, MSG_NOT_EXCEL, MSG_ZIP_BOMB, FileRefused, mb
from imports.workbook_child import cell_text

__all__ = ["MSG_EMPTY", "FileRefused", "cell_text"]  # re-exported: what callers and tests know readers by

ALLOWED_EXTENSIONS = (".csv", ".txt", ".xls", ".xlsx", ".zip")
TABLE_EXTENSIONS = (".csv", ".txt", ".xls", ".xlsx")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1250": "Windows-1250 (Central European)",
    "cp1252": "Windows-1252 (Western European)",
    "iso-8859-2": "ISO-8859-2 (Latin-2)",
    "iso-8859-1": "ISO-8859-1 (Latin-1)",
}
LEGACY_ENCODINGS = ("cp1250", "cp1252", "iso-8859-2")
CENTRAL_EUROPEAN_COUNTRIES = {"HR", "SI", "BA", "RS", "ME", "CZ", "SK", "PL", "HU", "RO", "AL", "MK", "XK"}
# Letters that real names and addresses in European files are made of; a legacy code page that turns the
# file's bytes into these (ć, č, š, ž, đ …) rather than into rarities (æ, ð, ¹, ¾) or controls is the right one.
COMMON_LETTERS = set("čćšžđČĆŠŽĐáéíóúýàèìòùâêîôûäëïöüÿÄÖÜÉÁÍÓÚÝßñÑçÇãõåÅøØłŁńśźżąęŃŚŹŻĄĘőűŐŰěřůťďňĚŘŮŤĎŇľĺŕĽĹŔăşţĂŞŢ")
ZIP_IGNORED = ("__MACOSX/",)
ZIP_MAX_RATIO = 200  # no real table compresses 200:1; a bomb does
SNIFF_BYTES = 256 * 1024
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

MSG_TOO_BIG = "The file is larger than {limit:g} MB ({size:.1f} MB)."
MSG_EXTENSION = "Only .csv, .txt, .xls, .xlsx or .zip files can be imported (got {name!r})."
MSG_HEADER_ONLY = "The file has a header row but no data rows."
MSG_BINARY = "The file is not a text table (it contains binary data); use .csv, .txt, .xls or .xlsx."
MSG_ZIP_BAD = "The zip archive is damaged and cannot be read."
MSG_ZIP_COUNT = "A zip must hold exactly one .csv, .txt, .xls or .xlsx file; this one holds {count}: {names}."
MSG_ZIP_NESTED = "A zip inside a zip is not accepted ({name})."
MSG_ZIP_ENCRYPTED = "The zip is password-protected; upload it without a password."
MSG_ZIP_RATIO = "The file inside the zip is compressed {ratio:.0f}:1, which only zip bombs are; refused."
MSG_ZIP_MEMBER = "The zip holds {name!r}, which is not a .csv, .txt, .xls or .xlsx file."
MSG_MISMATCH = "{name!r} is named like a text file but is a {kind}; rename it or export it as CSV."
MSG_TOO_MANY_ROWS = "The file has more than {limit} rows."
MSG_MIXED = (
    "The file mixes encodings: line {utf8} is UTF-8 but line {other} is not (Windows-1250 or another legacy "
    "code page), so one of them would import garbled; line {bad} is the first that differs. Save the whole file "
    "in one encoding (UTF-8) and upload it again."
)
MSG_DECODE = "The file cannot be read as {encoding}: choose another encoding."


def max_bytes() -> int:
    return settings.IMPORT_MAX_FILE_BYTES


def check_upload_name_and_size(name: str, size: int) -> str:
    """The extension (lower case) of an acceptable upload; refuses other names and oversized files."""
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise FileRefused(MSG_EXTENSION.format(name=name), code="extension")
    if size == 0:
        raise FileRefused(MSG_EMPTY, code="empty")
    if ext != ".zip" and size > max_bytes():
        raise FileRefused(MSG_TOO_BIG.format(limit=mb(max_bytes()), size=mb(size)), code="too_big")
    if ext == ".zip" and size > max_bytes():
        # A zip can never be larger than its content plus a little; no need to open a huge one.
        raise FileRefused(MSG_TOO_BIG.format(limit=mb(max_bytes()), size=mb(size)), code="too_big")
    return ext


def zip_member(path: Path) -> zipfile.ZipInfo:
    """The one table inside an archive, checked before anything is extracted."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise FileRefused(MSG_ZIP_BAD, code="zip_damaged") from None
    with archive:
        members = [
            info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith(ZIP_IGNORED)
        ]
        if len(members) != 1:
            names = ", ".join(info.filename for info in members[:5]) or "nothing"
            raise FileRefused(MSG_ZIP_COUNT.format(count=len(members), names=names), code="zip_count")
        info = members[0]
        if info.flag_bits & 0x1:
            raise FileRefused(MSG_ZIP_ENCRYPTED, code="zip_encrypted")
        ext = Path(info.filename).suffix.lower()
        if ext == ".zip":
            raise FileRefused(MSG_ZIP_NESTED.format(name=info.filename), code="zip_nested")
        if ext not in TABLE_EXTENSIONS:
            raise FileRefused(MSG_ZIP_MEMBER.format(name=info.filename), code="zip_member")
        if info.file_size > max_bytes():
            raise FileRefused(MSG_ZIP_BOMB.format(limit=mb(max_bytes()), name=info.filename), code="zip_bomb")
        if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
            raise FileRefused(MSG_ZIP_RATIO.format(ratio=info.file_size / info.compress_size), code="zip_bomb")
        return info


def zip_extract(path: Path, info: zipfile.ZipInfo, out) -> int:
    """Copy the member into `out`, counting real bytes: a size header that lies cannot get past the limit."""
    limit = max_bytes()
    written = 0
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as member:
            while chunk := member.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise FileRefused(MSG_ZIP_BOMB.format(limit=mb(limit), name=info.filename), code="zip_bomb")
                out.write(chunk)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
        if isinstance(exc, RuntimeError) and "encrypted" in str(exc).lower():
            raise FileRefused(MSG_ZIP_ENCRYPTED, code="zip_encrypted") from None
        raise FileRefused(MSG_ZIP_BAD, code="zip_damaged") from None
    if written > 0 and written / max(info.compress_size, 1) > ZIP_MAX_RATIO:
        raise FileRefused(MSG_ZIP_RATIO.format(ratio=written / max(info.compress_size, 1)), code="zip_bomb")
    return written


def sniff_format(path: Path, name: str) -> str:
    """csv, xls or xlsx from the file's first bytes; a name that promises text but holds binary is refused."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    ext = Path(name).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            names = set()
        if "xl/workbook.xml" in names:
            if ext in (".csv", ".txt"):
                raise FileRefused(MSG_MISMATCH.format(name=name, kind="an Excel workbook"), code="mismatch")
            return "xlsx"
        raise FileRefused(MSG_NOT_EXCEL.format(name=name) if ext in (".xls", ".xlsx") else MSG_BINARY, code="binary")
    if head.startswith(OLE2_MAGIC):
        if ext in (".csv", ".txt"):
            raise FileRefused(MSG_MISMATCH.format(name=name, kind="an Excel workbook"), code="mismatch")
        # Both .xls and password-protected .xlsx are OLE2 files; the reader tells them apart.
        return "xls"
    if ext in (".xls", ".xlsx"):
        raise FileRefused(MSG_NOT_EXCEL.format(name=name), code="not_excel")
    return "csv"


# ------------------------------------------------------------------------------------------- text files


def _utf16_without_bom(sample: bytes) -> str | None:
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
        return "utf-16-be"
    return None


def _legacy_score(text: str) -> int:
    score = 0
    for char in text:
        if ord(char) < 128:
            continue
        if char in COMMON_LETTERS:
            score += 2
        elif char.isalpha():
            score -= 1
        elif "\x80" <= char <= "\x9f":
            score -= 5  # C1 controls: ISO-8859-2 reading Windows bytes
        else:
            score -= 2  # symbols (©, ®, ¹, ¾) inside names
    return score


def detect_encoding(sample: bytes, *, country: str | None = None) -> str:
    """UTF-8 (± BOM), UTF-16 (± BOM), or the Central/Western European legacy code page that reads best."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16:
        return utf16
    if b"\x00" in sample:
        raise FileRefused(MSG_BINARY, code="binary")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a character is still UTF-8.
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    order = list(LEGACY_ENCODINGS)
    if country and country.upper() not in CENTRAL_EUROPEAN_COUNTRIES:
        order = ["cp1252", "cp1250", "iso-8859-2"]
    best, best_score = order[0], None
    for encoding in order:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _legacy_score(text)
        if best_score is None or score > best_score:
            best, best_score = encoding, score
    if _control_ratio(sample.decode(best, errors="replace")) > 0.05:
        raise FileRefused(MSG_BINARY, code="binary")
    return best


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for c in text if (ord(c) < 32 and c not in "\r\n\t") or c == "\ufffd")
    return controls / len(text)


def detect_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (> 1) of columns most consistently."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_sample(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def _text_rows(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    with open(path, encoding=encoding, newline="", errors="strict") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            yield from reader
        except UnicodeDecodeError:
            raise FileRefused(MSG_DECODE.format(encoding=ENCODINGS.get(encoding, encoding)), code="decode") from None
        except csv.Error as exc:
            raise FileRefused(f"The file is not a valid delimited text file: {exc}", code="csv") from None


# ------------------------------------------------------------------------------------------- the table


@dataclass
class TableInfo:
    """What the reader found: shown on the mapping page, stored on the job."""

    file_format: str
    encoding: str = ""
    delimiter: str = ""
    sheet_name: str = ""
    notes: list[str] = field(default_factory=list)


def inspect_table(path: Path, name: str, *, country: str | None = None) -> TableInfo:
    """Detect the format, and for text its encoding and delimiter. Refuses what cannot be imported."""
    file_format = sniff_format(path, name)
    if file_format == "xlsx":
        workbooks.check_xlsx_container(path, name)
    if file_format in ("xls", "xlsx"):
        choice = workbooks.choose_sheet(path, name)
        return TableInfo(file_format, sheet_name=choice.sheet_name, notes=choice.notes)
    sample = read_sample(path)
    if not sample.strip():
        raise FileRefused(MSG_EMPTY, code="empty")
    encoding = detect_encoding(sample, country=country)
    check_one_encoding(path, encoding)
    text = sample.decode(encoding, errors="ignore")
    if _control_ratio(text) > 0.05:
        raise FileRefused(MSG_BINARY, code="binary")
    return TableInfo("csv", encoding=encoding, delimiter=detect_delimiter(text))


def raw_rows(path: Path, info: TableInfo) -> Iterator[list[str]]:
    """Every row of the table as text cells, streamed."""
    if info.file_format == "csv":
        yield from _text_rows(path, info.encoding, info.delimiter or ",")
        return
    yield from workbooks.workbook_rows(path, info.sheet_name)


def unique_headers(cells: list[str]) -> list[str]:
    """Header names, trimmed; empty ones become `Column N` and repeated ones get ` (2)`, ` (3)`."""
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, start=1):
        name = (cell or "").strip().lstrip("\ufeff") or f"Column {index}"
        key = name.lower()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        headers.append(name)
    return headers


def table_rows(path: Path, info: TableInfo) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(headers, iterator of (row number, cells padded to the headers)). Empty rows are skipped."""
    rows = raw_rows(path, info)
    number = 0
    header: list[str] | None = None
    for cells in rows:
        number += 1
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        raise FileRefused(MSG_EMPTY, code="empty")
    headers = unique_headers(header)
    width = len(headers)
    first_number = number

    def body() -> Iterator[tuple[int, list[str]]]:
        limit = settings.IMPORT_MAX_ROWS
        count = 0
        for offset, cells in enumerate(rows, start=1):
            if not "".join(cells).strip():  # only blanks: any(cell.strip() for cell in cells), at C speed
                continue
            count += 1
            if count > limit:
                raise FileRefused(MSG_TOO_MANY_ROWS.format(limit=limit), code="too_many_rows")
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield first_number + offset, cells

    return headers, body()


def preview(path: Path, info: TableInfo, *, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """Headers and the first data rows; refuses a file with a header but no data."""
    headers, body = table_rows(path, info)
    sample = []
    for _, cells in body:
        sample.append(cells[: len(headers)])
        if len(sample) >= rows:
            break
    if not sample:
        raise FileRefused(MSG_HEADER_ONLY, code="header_only")
    return headers, sample


def check_one_encoding(path: Path, encoding: str) -> None:
    """Refuse a file whose lines mix UTF-8 with a legacy code page (pasted together from two exports), naming the
    first line that differs from the first non-ASCII one: read as either, one part would import as mojibake.
    Lines are classified by their bytes alone (valid UTF-8 with non-ASCII characters, or not), in one pass."""
    if encoding.startswith("utf-16"):
        return
    first: tuple[int, bool] | None = None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                is_utf8 = True
            except UnicodeDecodeError:
                is_utf8 = False
            if first is None:
                first = (number, is_utf8)
            elif is_utf8 != first[1]:
                utf8_line, other_line = (first[0], number) if first[1] else (number, first[0])
                raise FileRefused(MSG_MIXED.format(bad=number, utf8=utf8_line, other=other_line), code="mixed_encoding")


def decode_check(path: Path, encoding: str) -> None:
    """Refuse an encoding override the whole file cannot be read with, or that a part of it is not in."""
    check_one_encoding(path, encoding)
    with open(path, encoding=encoding, errors="strict") as handle:
        try:
            while handle.read(1024 * 1024):
                pass
        except UnicodeDecodeError:
            raise FileRefused(MSG_DECODE.format(encoding=ENCODINGS.get(encoding, encoding)), code="decode") from None
