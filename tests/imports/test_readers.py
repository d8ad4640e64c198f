"""Formats, encodings, delimiters and refused files, through import_job_create (what every entry point calls)."""

import io
import zipfile

import pytest

from imports.readers import FileRefused, decode_check, detect_delimiter, detect_encoding
from people.models import Person
from tests.imports.helpers import csv_bytes, fields, import_file, upload, xls_bytes, xlsx_bytes, zip_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ["First name", "Last name", "Phone", "Email", "City"],
    ["Ivan", "Jurić", "+385 99 123 4567", "ivan@example.com", "Zagreb"],
    ["Ana", "Šarić", "0911234567", "ana@example.com", "Split"],
]


def _names(realm):
    return sorted(Person.objects.filter(realm=realm).values_list("last_name", flat=True))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("people.csv", csv_bytes(ROWS)),
        ("people.txt", csv_bytes(ROWS, delimiter=";")),
        ("people.xlsx", xlsx_bytes(ROWS)),
        ("people.xls", xls_bytes(ROWS)),
        ("people.zip", zip_bytes({"people.csv": csv_bytes(ROWS)})),
        ("people-xlsx.zip", zip_bytes({"inner/people.xlsx": xlsx_bytes(ROWS)})),
    ],
)
def test_every_format_imports_the_same_persons(realm, name, content):
    job = import_file(realm, name, content)
    assert job.status == "succeeded"
    assert _names(realm) == ["Jurić", "Šarić"]
    assert sorted(Person.objects.filter(realm=realm).values_list("phones__number", flat=True)) == [
        "385911234567",
        "385991234567",
    ]


def test_semicolon_txt_is_detected_and_shown(realm):
    job = upload(realm, "people.txt", csv_bytes(ROWS, delimiter=";"))
    assert (job.file_format, job.detected_delimiter) == ("csv", ";")
    assert job.headers == ROWS[0]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("cp1250", "cp1250"), ("utf-8", "utf-8")],
)
def test_encodings_are_detected_and_jurić_stays_jurić(realm, encoding, expected):
    job = import_file(realm, "people.csv", csv_bytes(ROWS, encoding=encoding))
    assert job.detected_encoding == expected
    assert job.headers[0] == "First name"  # no BOM left in the first header
    assert _names(realm) == ["Jurić", "Šarić"]


def test_a_cp1250_croatian_file_is_not_read_as_cp1252():
    assert detect_encoding("Ivan;Jurić;Šarić;Đurđević;Čačić\r\n".encode("cp1250")) == "cp1250"
    assert "Jurić".encode("cp1250").decode("cp1252") == "Juriæ"  # what the wrong guess would store


def test_a_western_file_stays_western_for_a_western_realm():
    assert detect_encoding("Zoë;Müller;Françoise\r\n".encode("cp1252"), country="DE") == "cp1252"


def test_the_user_can_override_encoding_and_delimiter(realm):
    from imports import services

    job = upload(realm, "people.csv", csv_bytes(ROWS, encoding="cp1250"))
    job = services.import_job_configure(job=job, encoding="cp1252", delimiter=";")
    assert (job.effective_encoding, job.effective_delimiter) == ("cp1252", ";")
    assert len(job.headers) == 1  # read as one column now
    job = services.import_job_configure(job=job, encoding="cp1250", delimiter=",")
    assert job.headers == ROWS[0]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("a,b,c\n1,2,3\n", ","), ("a;b;c\n1;2;3\n", ";"), ("a\tb\tc\n1\t2\t3\n", "\t"), ("a|b|c\n1|2|3\n", "|")],
)
def test_delimiters_are_detected(text, delimiter):
    assert detect_delimiter(text) == delimiter


def _refused(realm, name, content, code):
    with pytest.raises(FileRefused) as info:
        upload(realm, name, content)
    assert info.value.code == code, info.value.message
    return info.value.message


def _encrypted_zip() -> bytes:
    data = bytearray(zip_bytes({"people.csv": csv_bytes(ROWS)}))
    # Set the "encrypted" flag in the local and central headers, as a password-protected zip has.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        data[position + offset] |= 0x1
    return bytes(data)


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("people.csv", b"a,b\n" + b"0" * (40 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\r\n\r\n  \r\n", "empty"),
        ("header.csv", b"First name,Phone\r\n", "header_only"),
        ("binary.csv", bytes(range(256)) * 64, "binary"),
        ("picture.png", b"\x89PNG....", "extension"),
        ("fake.xlsx", b"First name,Phone\r\nAna,0911234567\r\n", "not_excel"),
        ("two.zip", zip_bytes({"a.csv": csv_bytes(ROWS), "b.csv": csv_bytes(ROWS)}), "zip_count"),
        ("nested.zip", zip_bytes({"inner.zip": zip_bytes({"a.csv": csv_bytes(ROWS)})}), "zip_nested"),
        ("other.zip", zip_bytes({"notes.pdf": b"%PDF-1.4"}), "zip_member"),
        ("empty.zip", zip_bytes({}), "zip_count"),
        ("broken.zip", b"PK\x03\x04 not really a zip", "zip_damaged"),
    ],
)
def test_bad_files_are_refused_with_a_reason(realm, name, content, code):
    _refused(realm, name, content, code)


def test_a_16_mb_file_is_refused(realm):
    content = csv_bytes(ROWS) + b"Ana,Horvat,0911234567,a@example.com,Zagreb\r\n" * 400_000
    assert len(content) > 16 * 1024 * 1024
    assert "15 MB" in _refused(realm, "big.csv", content, "too_big")


def test_a_zip_bomb_is_refused_before_extraction(realm):
    message = _refused(realm, "bomb.zip", _bomb(), "zip_bomb")
    assert "unpack" in message


def test_a_zip_whose_header_lies_about_its_size_is_stopped_while_extracting(realm, settings):
    settings.IMPORT_MAX_FILE_BYTES = 2000
    data = bytearray(zip_bytes({"people.csv": csv_bytes(ROWS) * 200}))
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # claim 100 bytes unpacked
    local = data.find(b"PK\x03\x04")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")
    with pytest.raises(FileRefused):
        upload(realm, "liar.zip", bytes(data))


def test_a_password_protected_zip_is_refused(realm):
    _refused(realm, "secret.zip", _encrypted_zip(), "zip_encrypted")


def test_a_zip_with_macos_metadata_holds_one_file(realm):
    job = upload(realm, "mac.zip", zip_bytes({"people.csv": csv_bytes(ROWS), "__MACOSX/._people.csv": b"meta"}))
    assert job.inner_name == "people.csv"


def test_a_second_sheet_with_data_is_refused_naming_the_sheets(realm):
    content = xlsx_bytes(ROWS, extra_sheets={"Notes": [["do not import"]]})
    message = _refused(realm, "two-sheets.xlsx", content, "sheets")
    assert "'People'" in message
    assert "'Notes'" in message


def test_an_empty_second_sheet_is_ignored_and_said(realm):
    job = upload(realm, "sheets.xlsx", xlsx_bytes(ROWS, extra_sheets={"Sheet2": []}))
    assert job.sheet_name == "People"
    assert job.notes == ["Empty sheet 'Sheet2' was ignored."]


def test_formulas_without_a_saved_result_are_refused_naming_the_cells(realm):
    rows = [ROWS[0], [*ROWS[1][:4], '=CONCAT("Zag","reb")'], ROWS[2]]
    message = _refused(realm, "formulas.xlsx", xlsx_bytes(rows), "formulas")
    assert "E2" in message


def test_formulas_with_a_saved_result_import_the_result(realm):
    content = xlsx_bytes(ROWS)
    # What Excel writes: the formula and its cached value.
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index('<c r="E2"')
    end = sheet.index("</c>", start) + 4
    parts["xl/worksheets/sheet1.xml"] = (
        sheet[:start] + '<c r="E2" t="str"><f>CONCAT("Zag","reb")</f><v>Zagreb</v></c>' + sheet[end:]
    ).encode()
    job = import_file(realm, "formulas.xlsx", zip_bytes(parts))
    assert job.status == "succeeded"
    assert Person.objects.get(realm=realm, last_name="Jurić").city == "Zagreb"


def test_a_text_cell_that_looks_like_a_formula_is_just_text(realm):
    rows = [ROWS[0], [*ROWS[1][:4], "=1+1"]]
    import_file(realm, "people.csv", csv_bytes(rows))
    assert Person.objects.get(realm=realm).city == "=1+1"


def test_headers_are_made_unique_and_named(realm):
    job = upload(realm, "people.csv", csv_bytes([["Phone", "Phone", ""], ["0911234567", "0991234567", "x"]]))
    assert job.headers == ["Phone", "Phone (2)", "Column 3"]
    assert fields(job)["Phone (2)"] == "phone"


@pytest.mark.parametrize("first", ["utf-8", "cp1250"])
def test_a_file_mixing_utf8_and_cp1250_lines_is_refused_naming_the_first_bad_line(realm, first):
    second = "cp1250" if first == "utf-8" else "utf-8"
    lines = [
        ("Ime,Prezime,Mobitel\r\n", "ascii"),
        ("Ivan,Jurić,0911111111\r\n", first),
        ("Ana,Horvat,0912222222\r\n", "ascii"),
        ("Marko,Čačić,0913333333\r\n", first),
        ("Petra,Šimić,0914444444\r\n", second),
        ("Luka,Đurić,0915555555\r\n", first),
    ]
    content = b"".join(text.encode(encoding) for text, encoding in lines)
    message = _refused(realm, "mixed.csv", content, "mixed_encoding")
    assert "line 5 is the first that differs" in message
    assert ("line 2 is UTF-8 but line 5" if first == "utf-8" else "line 5 is UTF-8 but line 2") in message


def test_an_encoding_chosen_by_hand_does_not_let_a_mixed_file_through(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("Ime,Mobitel\r\nJurić,0911111111\r\n".encode() + "Šimić,0914444444\r\n".encode("cp1250"))
    with pytest.raises(FileRefused) as info:
        decode_check(path, "cp1250")
    assert info.value.code == "mixed_encoding"
