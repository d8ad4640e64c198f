"""Hostile workbooks for the reader's tests: each one took a process down or ended in a 500 before."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
ENTITY_BOMB_DOCTYPE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sst [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (level, (b"&lol%d;" % (level - 1) if level > 1 else b"&lol;") * 10)
        for level in range(1, 10)
    )
    + b"]>\n"
)


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    b'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    b'<sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    b'Target="sharedStrings.xml"/></Relationships>'
)
STRINGS_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'count="4" uniqueCount="4"><si><t>First name</t></si><si><t>Phone</t></si><si><t>Ana</t></si>'
    b"<si><t>0911234567</t></si></sst>"
)
SHEET_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    b'main"><dimension ref="A1:B2"/><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
    b'</row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData></worksheet>'
)


def workbook() -> bytes:
    """A minimal xlsx written by hand (a header and Ana), with a shared strings table as Excel writes."""
    return build({})


def build(parts: dict[str, Callable[[bytes], bytes] | bytes]) -> bytes:
    """The minimal workbook with some parts rewritten (a callable) or added/replaced (bytes)."""
    base = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        STRINGS: STRINGS_XML,
        SHEET: SHEET_XML,
    }
    for name, change in parts.items():
        base[name] = change(base[name]) if callable(change) else change
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, body in base.items():
            target.writestr(name, body)
    return out.getvalue()


def huge_dimension() -> bytes:
    """A sheet declaring all 17 billion cells Excel has (A1:XFD1048576)."""
    return build({SHEET: lambda body: body.replace(b'<dimension ref="A1:B2"', b'<dimension ref="A1:XFD1048576"')})


def far_cell() -> bytes:
    """No declared dimension, but a cell at XFD1048576: the reader's range spans the whole grid."""

    def change(body: bytes) -> bytes:
        body = re.sub(rb"<dimension[^>]*/>", b"", body)
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return body.replace(b"</sheetData>", far + b"</sheetData>")

    return build({SHEET: change})


def broken_shared_strings() -> bytes:
    """A cell pointing at shared string 999 of a table holding three."""
    return build({SHEET: lambda body: body.replace(b'<c r="A2" t="s"><v>2</v>', b'<c r="A2" t="s"><v>999</v>')})


def entity_bomb() -> bytes:
    """Billion laughs in the shared strings table."""

    def change(body: bytes) -> bytes:
        body = body.split(b"?>", 1)[1]
        return ENTITY_BOMB_DOCTYPE + body.replace(b"<t>Ana</t>", b"<t>&lol9;</t>", 1)

    return build({STRINGS: change})


def zip_bomb() -> bytes:
    """A part of 64 MB of zeros, deflated about 1000:1."""
    return build({"xl/media/image1.bin": b"\x00" * (64 * 1024 * 1024)})


def many_parts(count: int = 2500) -> bytes:
    return build({f"xl/media/p{index}.bin": b"x" for index in range(count)})


OLE2_GARBAGE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 64  # OLE2 magic, then no compound file
