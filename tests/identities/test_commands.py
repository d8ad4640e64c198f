import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from identities.models import ApiKey, Realm
from identities.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_realm_and_api_key_print_the_plain_key_last():
    run("create_realm", "Shop", "--country", "hr", "--currency", "eur", "--infobip-url", "http://127.0.0.1:9")
    realm = Realm.objects.get(name="Shop")
    assert (realm.default_country, realm.default_currency, realm.cdp_enabled) == ("HR", "EUR", True)
    owner = "6442b885880fc0254ad560e8"
    output = run("create_api_key", "--realm", "Shop", "--owner", owner)
    plain = output.strip().splitlines()[-1]
    key = api_key_authenticate(plain)
    assert key is not None
    assert key.owner == owner
    assert key.realm == realm
    assert plain not in {k.key_hash for k in ApiKey.objects.all()}


def test_create_realm_refuses_bad_input():
    with pytest.raises(CommandError, match="ISO 3166"):
        run("create_realm", "Bad", "--country", "XX")
    with pytest.raises(CommandError, match="No realm named"):
        run("create_api_key", "--realm", "missing")


def test_bootstrap_demo_reuses_what_exists(tmp_path, monkeypatch):
    from identities.management.commands import bootstrap_demo

    monkeypatch.setattr(bootstrap_demo, "CREDENTIALS", tmp_path / "creds.json")
    first = run("bootstrap_demo", "--sandbox-url", "http://127.0.0.1:8099")
    second = run("bootstrap_demo", "--sandbox-url", "http://127.0.0.1:8099")
    assert first == second
    saved = json.loads((tmp_path / "creds.json").read_text())
    assert saved["api_key"] in first
    assert saved["password"] in first
    assert Realm.objects.count() == 1
    assert ApiKey.objects.count() == 1
    assert User.objects.get(username="admin").check_password(saved["password"])
    assert api_key_authenticate(saved["api_key"]).realm.name == "Demo"
