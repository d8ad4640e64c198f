"""The sandbox's state file: Infobip does not forget, so neither does a sandbox started with one.

The file is one JSON document (``Store.export_state``), written atomically: a temp file in the same
directory, fsync, ``os.replace``. A reader therefore sees the previous complete state or the new one,
never half of one. A background thread saves at most every ``interval`` seconds when something changed,
and the server saves once more on shutdown; a SIGKILL loses at most the last interval's writes.

A file that cannot be read (not JSON, not a sandbox state, malformed records) is refused with
:class:`StateFileError` naming the file: the sandbox does not start rather than silently start empty,
because an empty Infobip behind a mirror that holds Infobip ids is the failure this file exists to prevent.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from infobip.sandbox.store import StateError, Store

try:  # 10x faster on a large state; the sandbox works without it
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

logger = logging.getLogger(__name__)


def _encode(data: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(data)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _decode(raw: bytes) -> Any:
    return orjson.loads(raw) if orjson is not None else json.loads(raw)


class StateFileError(Exception):
    """The state file exists but is unusable; the message names it and the way out."""


def save_state(store: Store, path: Path) -> int:
    """Write the store's state to ``path`` atomically; returns the store's change count it reflects."""
    with store.lock:
        changes = store.changes
        data = store.export_state()
    payload = _encode(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return changes


def load_state(store: Store, path: Path) -> bool:
    """Replace the store's state with the file's; False when there is no file (the store stays empty)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateFileError(f"cannot read the sandbox state file {path}: {exc}") from exc
    hint = f"move it away or run `manage.py sandbox_reset --state-file {path}` to start with an empty sandbox"
    gc.disable()  # millions of new containers: collecting while they are made is most of the time
    try:
        try:
            data = _decode(raw)
        except ValueError as exc:  # json.JSONDecodeError, orjson.JSONDecodeError, UnicodeDecodeError
            raise StateFileError(f"the sandbox state file {path} is not valid JSON ({exc}); {hint}") from exc
        try:
            store.import_state(data)
        except StateError as exc:
            raise StateFileError(f"the sandbox state file {path} is unusable: {exc}; {hint}") from exc
    finally:
        gc.enable()
    return True


class StateKeeper:
    """Saves ``store`` to ``path`` in the background when it changed, and on :meth:`stop`."""

    def __init__(self, store: Store, path: Path, *, interval: float = 1.0) -> None:
        self.store = store
        self.path = Path(path)
        self.interval = interval
        self.saved_changes = store.changes
        self._lock = threading.Lock()  # one save at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> bool:
        loaded = load_state(self.store, self.path)
        self.saved_changes = self.store.changes
        if loaded:
            logger.info("sandbox state loaded from %s: %d persons", self.path, len(self.store.persons))
        return loaded

    def flush(self, *, force: bool = False) -> bool:
        """Save now if anything changed since the last save (or always with ``force``); True when saved."""
        with self._lock:
            if not force and self.store.changes == self.saved_changes:
                return False
            self.saved_changes = save_state(self.store, self.path)
            return True

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="infobip-sandbox-state", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background saver and save what is not saved yet."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except OSError:
                logger.exception("saving the sandbox state to %s failed; retrying", self.path)
