"""Helpers of the sandbox tests: a requests session against a sandbox, body accessors."""

import re

import requests

from infobip.sandbox import SandboxServer
from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY

P = "/people/2/persons"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


class Api:
    def __init__(self, server: SandboxServer):
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"App {SANDBOX_API_KEY}"

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 10)
            return self.session.request(method.upper(), self.server.url + path, **kwargs)

        return call


def service_exception(response):
    return response.json()["requestError"]["serviceException"]


def by_ext(ext):
    return {"type": "EXTERNAL_ID", "identifier": ext}


def make_tag(api, name):
    assert api.post("/people/2/tags", json={"name": name}).status_code == 200
