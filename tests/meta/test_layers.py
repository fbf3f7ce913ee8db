"""Import contracts: the layers of docs/architecture.md, held by a test instead of by goodwill.

Every ``import`` and ``from … import`` in ``src/motcua`` counts, including those made inside
functions (an import hidden in a function is still a dependency, only a later one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import motcua

SRC = Path(motcua.__file__).parent

# Top to bottom. A package may import packages of its own layer's lower entries and anything in
# a lower layer, never upwards. Names inside one layer are independent of each other: they talk
# through events (core.events) or interfaces the lower layer owns.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("app", "cli", "worker"),  # entry points: the web app, the command, the job worker
    ("web",),  # the app's own pages: health probes, static files, errors, the platform landing
    ("dev",),  # development stand-ins, mounted by the entry points only in development
    ("admin",),  # the central console and the onboarding that spans every domain
    ("notifications",),  # subscribes to the domains' events
    ("reporting",),  # indicators read from rollups of the domains below
    ("backoffice", "feedback", "integrations"),
    ("payments", "workflow"),
    ("dossiers",),
    ("signing",),  # signed documents: signs and files what the domains above it hand in
    ("organisation",),
    ("identity", "catalog"),
    ("tenancy",),
    ("core",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, known: Iterable[str]) -> set[str]:
    """The ``motcua`` modules ``source`` imports, at any depth (functions included)."""
    known = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("motcua"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("motcua"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {m for m in found if m != module}


def source_modules() -> dict[str, str]:
    return {module_name(p): p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")}


def import_graph(sources: Mapping[str, str]) -> dict[str, set[str]]:
    return {m: {i for i in imports_of(src, m, sources) if i in sources} for m, src in sources.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "motcua"


def rank(layers: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {name: len(layers) - i for i, layer in enumerate(layers) for name in layer}


def layer_violations(graph: Mapping[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    ranks = rank(layers)
    problems = []
    for module, imported in sorted(graph.items()):
        here = package_of(module)
        for target in sorted(imported):
            there = package_of(target)
            if here == there or here == "motcua" or there == "motcua":
                continue
            if here not in ranks or there not in ranks:
                problems.append(f"{module} -> {target}: package not placed in a layer")
            elif ranks[there] >= ranks[here]:
                problems.append(f"{module} -> {target}: {here} may not import {there}")
    return problems


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = package_of(module)
        packages.setdefault(here, set()).update(package_of(t) for t in imported if package_of(t) != here)
    return packages


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(source_modules())


def test_every_package_sits_in_a_layer(graph: dict[str, set[str]]) -> None:
    placed = {name for layer in LAYERS for name in layer}
    packages = {package_of(m) for m in graph} - {"motcua"}
    assert packages == placed


def test_no_package_imports_one_above_it_or_beside_it(graph: dict[str, set[str]]) -> None:
    assert layer_violations(graph, LAYERS) == []


def test_no_import_cycle_between_files(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_no_import_cycle_between_packages(graph: dict[str, set[str]]) -> None:
    assert cycles(package_graph(graph)) == []


def test_no_domain_imports_the_development_stand_ins(graph: dict[str, set[str]]) -> None:
    allowed = {"app", "cli", "dev"}
    offenders = sorted(
        f"{m} -> {t}"
        for m, imported in graph.items()
        for t in imported
        if package_of(t) == "dev" and package_of(m) not in allowed
    )
    assert offenders == []


def test_no_route_module_imports_another_route_module(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{m} -> {t}"
        for m, imported in graph.items()
        if m.endswith(".routes")
        for t in imported
        if t.endswith(".routes")
    )
    assert offenders == []


def test_notifications_import_no_domain_model(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{m} -> {t}"
        for m, imported in graph.items()
        if package_of(m) == "notifications"
        for t in imported
        if package_of(t) not in ("core", "notifications")
    )
    assert offenders == []


# The checker itself: each rule fails on a deliberately wrong import ------------------------------
def _sources_with(extra: dict[str, str]) -> dict[str, str]:
    sources = source_modules()
    sources.update(extra)
    return sources


def test_the_checker_sees_a_domain_importing_the_stand_ins_inside_a_function() -> None:
    wrong = "def f():\n    from motcua.dev.people import DEV_USERS\n    return DEV_USERS\n"
    graph = import_graph(_sources_with({"motcua.dossiers.wrong": wrong}))
    problems = [p for p in layer_violations(graph, LAYERS) if ".wrong" in p]
    assert problems == ["motcua.dossiers.wrong -> motcua.dev.people: dossiers may not import dev"]


def test_the_checker_sees_an_import_between_siblings_and_upwards() -> None:
    sideways = "from motcua.feedback import services\n"
    upwards = "import motcua.payments.services\n"
    graph = import_graph(_sources_with({"motcua.backoffice.wrong": sideways, "motcua.core.wrong": upwards}))
    problems = layer_violations(graph, LAYERS)
    assert (
        "motcua.backoffice.wrong -> motcua.feedback.services: backoffice may not import feedback" in problems
    )
    assert "motcua.core.wrong -> motcua.payments.services: core may not import payments" in problems


def test_the_checker_finds_a_cycle_hidden_in_a_function() -> None:
    graph = import_graph(
        {
            "motcua.payments.a": "from motcua.payments import b\n",
            "motcua.payments.b": "def later():\n    from motcua.payments.a import x\n",
            "motcua.payments": "",
        }
    )
    assert cycles(graph) == [["motcua.payments.a", "motcua.payments.b"]]
    assert cycles(package_graph({"motcua.x.a": {"motcua.y.b"}, "motcua.y.b": {"motcua.x.a"}})) == [["x", "y"]]
