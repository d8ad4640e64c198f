"""Issue 16: production settings pass `check --deploy`, refuse to start without their secrets; the API key pepper
is its own setting; `make run`'s .env script; the Content-Security-Policy header."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from identities.models import ApiKey
from identities.services import api_key_authenticate, api_key_create

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEVELOPMENT": "false",
    "DEBUG": "false",
    "SECRET_KEY": "x" * 30 + "a-long-random-production-secret-key-0123456789",
    "API_KEY_PEPPER": "a-separate-long-random-pepper-0123456789abcdef",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "cdp.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    dropped = {*PRODUCTION, "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the browser fixture sets the last
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**clean, "CDPADMIN_ENV_FILE": "", **env}, cwd="/", capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_passes_without_warnings_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_in_development():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEVELOPMENT="true")
    assert result.returncode != 0
    assert "security.W009" in result.stderr  # the public development SECRET_KEY


@pytest.mark.parametrize("missing", ["SECRET_KEY", "API_KEY_PEPPER", "FIELD_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr.splitlines()[-1]
    assert PRODUCTION["SECRET_KEY"] not in result.stderr


@pytest.mark.django_db
def test_existing_hashes_made_with_secret_key_verify_in_development(settings, realm):
    plain = "cdp_0123456789ab_" + "k" * 43
    legacy = hmac.new(settings.SECRET_KEY.encode(), plain.encode(), hashlib.sha256).hexdigest()
    ApiKey.objects.create(realm=realm, prefix="0123456789ab", key_hash=legacy)
    settings.API_KEY_PEPPER = settings.SECRET_KEY  # development's fallback (shown by the next test)
    assert api_key_authenticate(plain) is not None
    settings.API_KEY_PEPPER = "a-different-pepper"
    assert api_key_authenticate(plain) is None


def test_development_pepper_falls_back_to_secret_key():
    script = "from django.conf import settings; print(settings.API_KEY_PEPPER == settings.SECRET_KEY)"
    env = {"DEVELOPMENT": "true", "DJANGO_SETTINGS_MODULE": "cdpadmin.settings"}
    result = manage("shell", "-c", script, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.django_db
def test_rotating_secret_key_does_not_break_api_keys(settings, realm):
    settings.API_KEY_PEPPER = "pepper-kept-across-secret-key-rotations"
    _key, plain = api_key_create(realm=realm)
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789"
    assert api_key_authenticate(plain) is not None
    settings.API_KEY_PEPPER = "another-pepper"
    assert api_key_authenticate(plain) is None


def test_the_env_script_writes_random_secrets_once(tmp_path):
    target = tmp_path / ".env"
    target.write_text("DATABASE_URL=postgres://postgres@127.0.0.1:5432/x")
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    script = [sys.executable, str(ROOT / "scripts" / "ensure_env.py"), str(target)]
    subprocess.run(script, env=env, check=True, capture_output=True, timeout=30)
    first = dict(line.split("=", 1) for line in target.read_text().splitlines() if "=" in line and line[0] != "#")
    assert first["DEVELOPMENT"] == "true"
    assert len(first["SECRET_KEY"]) >= 50
    assert first["SECRET_KEY"] != first["API_KEY_PEPPER"]
    Fernet(first["FIELD_ENCRYPTION_KEYS"].encode())
    assert first["DATABASE_URL"].endswith("/x")
    subprocess.run(script, env=env, check=True, capture_output=True, timeout=30)
    assert (
        dict(line.split("=", 1) for line in target.read_text().splitlines() if "=" in line and line[0] != "#") == first
    )
    assert oct(target.stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_html_pages_carry_a_policy_with_a_fresh_nonce_per_request(admin_client):
    first = admin_client.get(reverse("admin:index"))["Content-Security-Policy"]
    second = admin_client.get(reverse("admin:index"))["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in first
    assert "frame-ancestors 'none'" in first
    assert first != second
    docs = admin_client.get("/v1/docs/")
    nonce = docs["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in docs.content.decode()
