"""24-character lowercase hex ids, shaped like the MongoDB ObjectIds of the source documents
(`634b56217f6a7b0be52dffbd`): 4 bytes of seconds, 5 random bytes, a 3-byte counter."""

import itertools
import os
import re
import secrets
import threading
import time
from typing import Any

HEX24_RE = re.compile(r"^[0-9a-f]{24}$")
ID_MAX = 2**63 - 1  # person and company ids are bigint primary keys

_lock = threading.Lock()
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_process_random = secrets.token_bytes(5)
_pid = os.getpid()


def new_object_id() -> str:
    global _process_random, _pid
    with _lock:
        if os.getpid() != _pid:  # forked worker: never share the random part with the parent
            _pid = os.getpid()
            _process_random = secrets.token_bytes(5)
        count = next(_counter) & 0xFFFFFF
        random_part = _process_random
    return (int(time.time()).to_bytes(4, "big") + random_part + count.to_bytes(3, "big")).hex()


def is_hex24(value: object) -> bool:
    return isinstance(value, str) and bool(HEX24_RE.match(value))


def parse_object_id(value: Any) -> int | None:
    """A person or company id as sent: an integer or its decimal string ("3"). None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= ID_MAX else None
