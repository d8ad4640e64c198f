"""Import-layer checker: every import of our code points down a floor (or within its own), never up.

Floors, bottom to top (a module belongs to the floor of its longest matching prefix):

- core: what every app imports; imports no app. infobip.contract (Infobip's published limits and filter
  grammar) sits here too and imports nothing of ours, so the sandbox can run on it without Django apps.
- realms: the tenant's foundation in identities (realms, API keys, ids, idempotency, realm scoping).
- outbox: the outbox rows and their recording, the Infobip client and its shared rate limiter; every app's
  services record their Infobip side effects here in the same transaction.
- people, then companies (a company's attributes are the persons' vocabulary).
- identities: the identity resource composes a person and a company.
- imports, then infobip (sync, push handlers, sandbox): they read and write all of the above.
- cdpadmin: settings, urls, the admin site and the dashboard; may import every app.

infobip.sandbox (the fake Infobip) is imported by no product code. Lazy (function-level) imports count like
module-level ones, and no two modules may import each other in a cycle.

Run: python scripts/layers.py (prints one line per offending import or cycle; exit status 1 when any).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS: list[tuple[str, list[str]]] = [
    ("core", ["core", "infobip.contract"]),
    (
        "realms",
        [
            "identities.models",
            "identities.ids",
            "identities.keycache",
            "identities.idempotency",
            "identities.realms",
            "infobip.hosts",
        ],
    ),
    ("outbox", ["infobip.models", "infobip.outbox", "infobip.selectors", "infobip.client", "infobip.ratelimit"]),
    ("people", ["people"]),
    ("companies", ["companies"]),
    ("identities", ["identities"]),
    ("imports", ["imports"]),
    ("tracking", ["tracking"]),  # anonymous visitors: above people (identify creates and links persons)
    (
        "infobip",
        [
            "infobip",
            # the drain and its per-entity handlers read the models they push; recording and payloads stay below
            *(
                f"infobip.outbox.{name}"
                for name in (
                    "engine",
                    "work",
                    "tags",
                    "attributes",
                    "event_definitions",
                    "companies",
                    "person_plan",
                    "person_links",
                    "persons",
                    "persons_batch",
                    "merges",
                    "events",
                )
            ),
        ],
    ),
    ("cdpadmin", ["cdpadmin"]),
]
SANDBOX = "infobip.sandbox"
SANDBOX_TOOLS = {"infobip.management.commands.infobip_sandbox"}  # `manage.py infobip_sandbox` runs it
SELF_CONTAINED = ["infobip.contract"]  # imports nothing of ours
SKIPPED_PARTS = {"migrations", "__pycache__"}
# Arrows still running up, in modules being reworked elsewhere; each entry must still exist (a stale one fails),
# so this list only shrinks.
KNOWN_ARROWS: set[tuple[str, str]] = {
    ("people.merge_undo", "companies.models"),  # an undo restores the absorbed persons' company link
    ("people.seeding", "companies.models"),  # demo data creates companies
}


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.source.replace('.', '/')}.py:{self.line}: imports {self.target}: {self.why}"


def floor_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, floor index)
    for index, (_name, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    modules = {}
    for top in {prefix.split(".")[0] for _name, prefixes in FLOORS for prefix in prefixes}:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not SKIPPED_PARTS.intersection(path.relative_to(ROOT).parts):
                modules[module_name(path)] = path
    return modules


def imports_of(path: Path, module: str, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module of ours, line): `from a import b` names a.b when that is a module, else a."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            if floor_of(target) is not None:
                yield target, node.lineno


def check_import(source: str, target: str) -> str | None:
    """Why `source` importing `target` breaks the layering, or None when it may."""
    for package in SELF_CONTAINED:
        if within(source, package) and not within(target, package):
            return f"{package} imports nothing of ours"
    if within(target, SANDBOX) and not within(source, SANDBOX) and source not in SANDBOX_TOOLS:
        return "product code never imports the sandbox"
    source_floor, target_floor = floor_of(source), floor_of(target)
    if target_floor > source_floor:
        return f"floor {FLOORS[source_floor][0]} sits below floor {FLOORS[target_floor][0]}"
    return None


def graph() -> dict[str, dict[str, int]]:
    """module → {imported module of ours → first line}."""
    modules = product_modules()
    edges: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges[module] = {}
        for target, line in imports_of(path, module, modules):
            if target != module:
                edges[module].setdefault(target, line)
    return edges


def arrows_up(edges: dict[str, dict[str, int]]) -> list[Arrow]:
    found = []
    for source, targets in edges.items():
        for target, line in targets.items():
            why = check_import(source, target)
            if why and (source, target) not in KNOWN_ARROWS:
                found.append(Arrow(source, target, line, why))
    return sorted(found, key=lambda arrow: (arrow.source, arrow.line))


def stale_known_arrows(edges: dict[str, dict[str, int]]) -> list[tuple[str, str]]:
    return sorted(pair for pair in KNOWN_ARROWS if pair[1] not in edges.get(pair[0], {}))


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted. A package's __init__ importing
    its own submodules is not a cycle of the submodules with each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (a few hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if within(target, node):  # a package importing its own submodules
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def problems() -> list[str]:
    edges = graph()
    lines = [str(arrow) for arrow in arrows_up(edges)]
    lines += [f"cycle: {' <-> '.join(group)}" for group in cycles(edges)]
    lines += [f"stale KNOWN_ARROWS entry (the import is gone): {a} -> {b}" for a, b in stale_known_arrows(edges)]
    return lines


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
