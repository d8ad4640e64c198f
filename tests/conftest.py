pytest_plugins = ["infobip.sandbox.pytest_plugin"]
