"""`make run`'s first step: give this machine a .env with its own random secrets (kept on later runs).

Adds only what is missing (from both .env and the environment): DEVELOPMENT=true (derived keys allowed, the
local sandbox, plain http), SECRET_KEY, API_KEY_PEPPER and FIELD_ENCRYPTION_KEYS. Standard library only.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

GENERATORS = {
    "DEVELOPMENT": lambda: "true",
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "API_KEY_PEPPER": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
}


def ensure(path: Path) -> list[str]:
    text = path.read_text() if path.exists() else ""
    present = {line.partition("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
    added = [name for name in GENERATORS if name not in present and not os.environ.get(name)]
    if added:
        lines = [f"{name}={GENERATORS[name]()}" for name in added]
        prefix = "" if not text or text.endswith("\n") else "\n"
        path.write_text(
            f"{text}{prefix}# written by scripts/ensure_env.py for this machine\n" + "\n".join(lines) + "\n"
        )
    path.chmod(0o600)
    return added


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    names = ensure(target)
    if names:
        print(f"{target}: wrote {', '.join(names)}")
