"""infobip.contract (published limits and the filter language) imports without Django: the sandbox and the
client read it outside a configured project."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_contract_imports_without_django_settings():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys; import infobip.contract.limits, infobip.contract.filters; "
        "from infobip.contract.filters import parse_person_filter; "
        "assert parse_person_filter({'firstName': 'Ann'}) is not None; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
