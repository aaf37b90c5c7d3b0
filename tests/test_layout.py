"""The package's shape holds: layers point one way, private stays private, no cycles, honest __all__.

Layers, lowest first. A module may import its own layer or lower ones, never higher:
  0 plumbing:  config, _net, _procs, _runtime, display, processes, waiting
  1 parts:     the package root, brokers, services, thinhttp, faults, observe, messaging, shop, demo
  2 measure
  3 plots
  4 checks
  5 lessons    (each lesson imports the toolkit and its own package, never another lesson)
  6 tools:     grading, authoring, bench, labcheck, lab, prereqs, site
Inside a lesson: services never import rigs, charts or checks; rigs never charts or checks;
charts never checks.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import types

import pytest

import labsupport

ROOT = pathlib.Path(labsupport.__file__).parent
LAYERS = {
    0: ["config", "_net", "_procs", "_runtime", "display", "processes", "waiting", "evidence"],
    1: ["", "brokers", "services", "thinhttp", "faults", "observe", "messaging", "shop", "demo"],
    2: ["measure"],
    3: ["plots"],
    4: ["checks"],
    5: ["lessons"],
    6: ["grading", "authoring", "bench", "labcheck", "lab", "prereqs", "site"],
}
LESSON_PARTS = ["services", "rigs", "charts", "checks"]  # each may import only those before it


def module_name(path: pathlib.Path) -> str:
    parts = ["labsupport", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports_of(name: str) -> list[str]:
    """Return the labsupport modules `name` imports (outside `if TYPE_CHECKING:` blocks)."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if is_package(name) else name.rpartition(".")[0]
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append(sub if sub in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return sorted({m for m in found if m in MODULES and m != name})


def layer_of(name: str) -> int:
    first = name.split(".")[1] if "." in name else ""
    return next(level for level, tops in LAYERS.items() if first in tops)


def lesson_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "lessons" else None


def test_every_module_has_a_layer():
    assert [m for m in MODULES if not any(layer_of(m) == k for k in LAYERS)] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_higher_layer(name):
    higher = [m for m in imports_of(name) if layer_of(m) > layer_of(name)]
    assert higher == [], f"{name} (layer {layer_of(name)}) imports {higher}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if lesson_of(m)))
def test_a_lesson_imports_no_other_lesson_and_keeps_its_own_order(name):
    lesson = lesson_of(name)
    others = [m for m in imports_of(name) if lesson_of(m) not in (None, lesson)]
    assert others == [], f"{name} imports another lesson: {others}"
    part = name.split(".")[3].split("_")[0] if len(name.split(".")) > 3 else ""
    if part in LESSON_PARTS:
        later = LESSON_PARTS[LESSON_PARTS.index(part) + 1 :]
        own = [m.split(".")[3].split("_")[0] for m in imports_of(name) if lesson_of(m) == lesson]
        assert [p for p in own if p in later] == [], f"{name} imports a later part: {own}"


def private_owner(module: str) -> str | None:
    """Return the package a private module belongs to (None for a public module)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and part != "__init__":
            return ".".join(parts[:i])
    return None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nothing_imports_another_packages_private_module(name):
    leaks = []
    for target in imports_of(name):
        owner = private_owner(target)
        if owner is None:
            continue
        inside = name == owner or name.startswith(owner + ".")
        if not inside or (lesson_of(name) and not target.startswith("labsupport.lessons.")):
            leaks.append(target)
    assert leaks == [], f"{name} imports private modules of other packages: {leaks}"


def test_there_are_no_import_cycles():
    graph = {m: imports_of(m) for m in MODULES}
    cycles, state = [], {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = "done"

    for m in graph:
        if m not in state:
            walk(m, [m])
    assert cycles == []


def public_names(module: types.ModuleType) -> set[str]:
    """Return the names a package offers: its own functions, classes and constants."""
    return {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not inspect.ismodule(v)
        and n != "annotations"
        and getattr(v, "__module__", "labsupport").startswith("labsupport")
    }


PACKAGES = sorted(m for m in MODULES if is_package(m))


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_all_is_sorted_and_is_exactly_its_public_names(name):
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{name} has no __all__"
    assert declared == sorted(declared), f"{name}.__all__ is not sorted"
    assert [n for n in declared if not hasattr(module, n)] == []
    assert public_names(module) - set(declared) == set(), f"{name} has public names not in __all__"


DECLARING = sorted(
    m for m in MODULES if not is_package(m) and "\n__all__ = [" in MODULES[m].read_text()
)


@pytest.mark.parametrize("name", DECLARING)  # only packages must declare one; modules may
def test_a_module_that_declares_all_keeps_it_sorted_and_real(name):
    declared = importlib.import_module(name).__all__
    module = importlib.import_module(name)
    assert declared == sorted(declared)
    assert [n for n in declared if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", sorted(m for m in PACKAGES if lesson_of(m)))
def test_a_lesson_package_init_only_re_exports(name):
    tree = ast.parse(MODULES[name].read_text())
    defined = [
        type(n).__name__
        for n in tree.body
        if not isinstance(n, ast.Import | ast.ImportFrom | ast.Expr)
        and not (isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "__all__")
    ]
    assert defined == [], f"{name}/__init__.py defines code: {defined}"
