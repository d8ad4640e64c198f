"""The import layers of scripts/layers.py hold: no arrow runs back up a floor, no cycle, no product code
imports the sandbox."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "layers.py"


def load_layers():
    spec = importlib.util.spec_from_file_location("layers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["layers"] = module
    spec.loader.exec_module(module)
    return module


layers = load_layers()


def test_no_import_runs_back_up_a_floor_and_no_cycle():
    assert layers.problems() == []


def test_the_checker_sees_an_arrow_up_a_lazy_import_and_the_sandbox():
    assert layers.check_import("core.errors", "people.models") == "floor core sits below floor people"
    assert layers.check_import("people.services", "infobip.sync") == "floor people sits below floor infobip"
    assert layers.check_import("infobip.push", "infobip.sandbox.store") == "product code never imports the sandbox"
    assert layers.check_import("infobip.contract.filters", "core.errors") == "infobip.contract imports nothing of ours"
    assert layers.check_import("cdpadmin.urls", "people.api") is None
    assert layers.check_import("infobip.sandbox.store", "infobip.contract.limits") is None


def test_the_checker_finds_a_cycle_and_function_level_imports(tmp_path):
    edges = {"a.x": {"a.y": 1}, "a.y": {"a.x": 3}, "a.z": {"a.x": 1}}
    assert layers.cycles(edges) == [["a.x", "a.y"]]
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from people.models import Person\n")
    assert list(layers.imports_of(source, "core.mod", {})) == [("people.models", 2)]
