"""Import layers: no circles between ganzoo modules, and a lower layer never imports a higher one.

Every module under ganzoo/ is read with ``ast`` (nothing is imported): top-level, function-level and
TYPE_CHECKING imports all count, relative ones are resolved, and a name a package serves lazily
(``ganzoo.load``, ``ganzoo.engine.Trainer``) counts as an import of the module that defines it.
Plugins under plugins/ are outside: they may import any public module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ganzoo"

# module prefix -> layer, bottom to top; a module takes the layer of its longest matching prefix
# ("ganzoo" alone is the package's __init__: the public names, served lazily from the layers above)
LAYERS = {
    # foundations: names, configs, hooks, tensor helpers, Hub transfer (repos and files, no models)
    "ganzoo.registry": 0,
    "ganzoo.config": 0,
    "ganzoo.hookspecs": 0,
    "ganzoo.augment": 0,
    "ganzoo.losses": 0,
    "ganzoo.latent": 0,
    "ganzoo.networks": 0,
    "ganzoo.hf": 0,
    "ganzoo.output_targets": 0,
    "ganzoo.processes": 0,
    "ganzoo.images": 0,
    # plugins, tasks, building networks, the model object
    "ganzoo": 1,
    "ganzoo.plugins": 1,
    "ganzoo.core_plugin": 1,
    "ganzoo.plugin_install": 1,
    "ganzoo.tasks": 1,
    "ganzoo.tricks": 1,
    "ganzoo.building": 1,
    "ganzoo.model": 1,
    "ganzoo.data": 2,
    "ganzoo.metrics": 3,
    "ganzoo.engine": 4,
    # published folders; importers write them; name resolution loads any of them
    "ganzoo.pretrained": 5,
    "ganzoo.importers": 6,
    "ganzoo.pretrained.names": 7,
    "ganzoo.api": 8,
    "ganzoo.hub": 8,  # hub: compatibility names for users, imported by no ganzoo module
    "ganzoo.eval_report": 9,
    "ganzoo.eval_folder": 9,
    "ganzoo.eval_labels": 9,
    "ganzoo.evaluate": 9,
    "ganzoo.export": 9,
    "ganzoo.export_graphs": 9,
    "ganzoo.demo": 9,
    "ganzoo.demo_app": 9,
    "ganzoo.bench": 9,
    "ganzoo.bench_report": 9,
    "ganzoo.testing": 9,
    "ganzoo.cli": 10,
    "ganzoo.scaffold": 10,
    "ganzoo.__main__": 10,
}

# Upward imports that are the design: GanModel's save_pretrained / push_to_hub / from_pretrained hand the
# model to the published-folder layer at call time, the user-facing shape diffusers' models have.
ALLOWED = {
    ("ganzoo.model", "ganzoo.pretrained.folder"),
    ("ganzoo.model", "ganzoo.pretrained.names"),
    ("ganzoo.model", "ganzoo.pretrained.publish"),
}

# Imports still to change, in modules whose owners change them: upward ones as (importer, imported), and the
# modules still importing the ganzoo.hub compatibility names. A test fails when one is fixed (remove it here)
# and when a new one appears.
PENDING: set[tuple[str, str]] = set()
PENDING_HUB: set[str] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _lazy_table(module: str) -> dict[str, str]:
    """A package's ``_LAZY = {"name": "module:attr"}``: public name -> the module that defines it."""
    path = MODULES.get(module)
    if path is None or path.name != "__init__.py":
        return {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return {k: v.split(":")[0] for k, v in ast.literal_eval(node.value).items()}
    return {}


def _owner(name: str) -> str | None:
    """The ganzoo module a dotted name lives in (its longest prefix that is a module), or None outside ganzoo."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _target(package: str, name: str) -> str | None:
    """What ``from package import name`` imports: a submodule, a lazily served name's module, or the package."""
    if f"{package}.{name}" in MODULES:
        return f"{package}.{name}"
    return _lazy_table(package).get(name) or _owner(package)


def imports_of(module: str) -> set[str]:
    """Every ganzoo module that ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    found: set[str | None] = set()
    bound: dict[str, str] = {}  # names bound by ``import ganzoo`` / ``import ganzoo.x as y``
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ganzoo":
                    found.add(_owner(alias.name))
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "ganzoo"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == "ganzoo":
                found.update(_target(source, alias.name) for alias in node.names)
    for node in ast.walk(tree):  # ganzoo.load(...) after ``import ganzoo``: the module serving that name
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            found.add(_target(bound[node.value.id], node.attr))
    return {m for m in found if m is not None and m != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int:
    keys = [k for k in LAYERS if module == k or (k != "ganzoo" and module.startswith(k + "."))]
    if not keys:
        raise KeyError(module)
    return LAYERS[max(keys, key=len)]


def upward() -> set[tuple[str, str]]:
    return {(a, b) for a, deps in GRAPH.items() for b in deps if layer_of(b) > layer_of(a)} - ALLOWED


def test_every_module_has_a_layer():
    missing = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            missing.append(module)
    assert not missing, f"give these modules a layer in LAYERS: {missing}"


def test_lower_layers_never_import_higher_ones():
    found = upward()
    new = sorted(found - PENDING)
    assert not new, "upward imports:\n" + "\n".join(
        f"  {a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})" for a, b in new
    )
    fixed = sorted(PENDING - found)
    assert not fixed, f"fixed, remove from PENDING: {fixed}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    graph = {a: {b for b in deps if (a, b) not in ALLOWED | PENDING} for a, deps in GRAPH.items()}
    assert _cycles(graph) == []


def test_nothing_in_ganzoo_imports_the_hub_compatibility_module():
    assert sorted(a for a, deps in GRAPH.items() if "ganzoo.hub" in deps) == sorted(PENDING_HUB)


def test_the_walk_sees_function_level_relative_and_lazy_imports():
    assert "ganzoo.pretrained.folder" in GRAPH["ganzoo.model"]  # inside a method, relative
    assert "ganzoo.engine.trainer" in GRAPH["ganzoo.api"]  # ``from .engine import Trainer``: served lazily
    assert "ganzoo" in GRAPH["ganzoo.engine.state"]  # ``from .. import __version__``
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["ganzoo.pretrained.folder", "ganzoo.hf", "ganzoo.building"])
def test_modules_named_in_the_layers_exist(module):
    assert module in MODULES
