"""The refusal of an upload, and the words shared by the table reader (readers.py) and the workbook guard
(workbooks.py)."""

from __future__ import annotations

from core.errors import DomainError

MSG_EMPTY = "The file is empty."
MSG_ZIP_BOMB = "The file inside the zip would unpack to more than {limit:g} MB ({name}); the limit applies unpacked."
MSG_NOT_EXCEL = "{name!r} is not a readable Excel workbook (damaged or password-protected)."


class FileRefused(DomainError):
    """The upload cannot be imported; `message` says why in words a user can act on."""

    status = 400
    code = "file_refused"


def mb(value: int) -> float:
    return value / (1024 * 1024)
