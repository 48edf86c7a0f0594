"""The plugin manager: loads plugins from the "ganzoo" entry-point group and fills the registries.

Built-in variants are entry points of this distribution and load exactly like a third-party
plugin. Each plugin is imported and each of its hooks called on its own, so one that fails is
recorded (see ``ganzoo plugins``) while the rest keep working; SystemExit raised by a plugin is
such a failure too (only Ctrl-C passes through). Registration follows the order plugins were
loaded in (the core, then this distribution's built-ins, then third-party plugins), whatever
tryfirst/trylast a hook asks for, so built-ins always keep their names. ``GANZOO_LOAD_PLUGINS=a,b``
limits loading to the named plugins (entry-point or distribution names; empty loads none).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .hookspecs import hookimpl  # noqa: F401  (re-exported: plugins have always imported it from here)
from .registry import DatasetSpec, ImporterSpec, MetricSpec, ModelCard, Registry, Variant

ENTRY_POINT_GROUP = "ganzoo"
CORE_PLUGIN = "ganzoo"  # the core's own data sets and metrics, always loaded

# hook name -> (registry attribute, the entry type the hook must register)
REGISTRATION_HOOKS: dict[str, tuple[str, type]] = {
    "ganzoo_register_variants": ("variants", Variant),
    "ganzoo_register_models": ("models", ModelCard),
    "ganzoo_register_datasets": ("datasets", DatasetSpec),
    "ganzoo_register_metrics": ("metrics", MetricSpec),
    "ganzoo_register_importers": ("importers", ImporterSpec),
}


@dataclass
class PluginInfo:
    """What `ganzoo plugins` shows about one plugin."""

    name: str  # entry-point name (the plugin's name)
    distribution: str | None = None  # the pip distribution that provides it
    version: str | None = None
    hooks: list[str] = field(default_factory=list)  # hooks it implements
    registered: list[str] = field(default_factory=list)  # "variant:dcgan", "model:dcgan-mnist", ...
    errors: list[str] = field(default_factory=list)  # import or hook failures, one line each


class PluginState:
    """One loaded set of plugins and the registries they filled."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.variants: Registry[Variant] = Registry("variant")
        self.models: Registry[ModelCard] = Registry("model")
        self.datasets: Registry[DatasetSpec] = Registry("data set")
        self.metrics: Registry[MetricSpec] = Registry("metric")
        self.importers: Registry[ImporterSpec] = Registry("importer")
        self.order: list[str] = []  # plugin names in load order: registration follows it

    def add_plugin(self, obj: Any, name: str, distribution: str | None = None, version: str | None = None) -> None:
        info = self.infos.setdefault(name, PluginInfo(name, distribution, version))
        try:
            self.pm.register(obj, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a name clash or a malformed hookimpl
            info.errors.append(f"could not register: {exc}")
            return
        self.order.append(name)
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(obj) or [])

    def fill_registries(self) -> None:
        for hook_name, (attr, entry_type) in REGISTRATION_HOOKS.items():
            registry = getattr(self, attr)
            for impl in self._in_load_order(getattr(self.pm.hook, hook_name).get_hookimpls()):
                self._call_registration(impl, hook_name, registry, entry_type)

    def _in_load_order(self, impls: list) -> list:
        """pluggy orders hook implementations by tryfirst/trylast; name ownership must not depend on that."""
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(impls, key=lambda impl: rank.get(impl.plugin_name, len(rank)))

    def _call_registration(self, impl, hook_name: str, registry: Registry, entry_type: type) -> None:
        info = self.infos[impl.plugin_name]
        collected: list[Any] = []

        def register(entry: Any) -> None:
            if not isinstance(entry, entry_type):
                raise TypeError(f"{hook_name} must register {entry_type.__name__} objects, got {type(entry).__name__}")
            collected.append(entry)

        try:
            impl.function(register=register)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the plugin's bug (SystemExit too): report it, register nothing from this call
            info.errors.append(f"{hook_name} failed: {_one_line(exc)}")
            return
        for entry in collected:
            try:
                registry.add(entry, impl.plugin_name)
                info.registered.append(f"{registry.kind}:{entry.name}")
            except Exception as exc:
                info.errors.append(_one_line(exc))

    def call_command_hooks(self, cli: Any) -> None:
        """Let plugins add subcommands; one that replaces an existing command gets it taken back, as an error."""
        for impl in self._in_load_order(self.pm.hook.ganzoo_register_commands.get_hookimpls()):
            errors = self.infos[impl.plugin_name].errors
            before = dict(cli.commands)
            try:
                impl.function(cli=cli)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                errors.append(f"ganzoo_register_commands failed: {_one_line(exc)}")
            for name, command in before.items():
                if cli.commands.get(name) is not command:
                    cli.commands[name] = command
                    errors.append(f"command {name!r} already exists; plugin {impl.plugin_name!r} cannot replace it")


_state: PluginState | None = None
_extra_plugins: list[tuple[Any, str]] = []  # registered in-process, e.g. by tests


def get_state() -> PluginState:
    """The loaded plugins and registries, loading them on first use."""
    global _state
    if _state is None:
        _state = _load()
    return _state


def register_plugin(obj: Any, name: str) -> None:
    """Add a plugin object (a module or class with hookimpls) in-process, then reload registries."""
    _extra_plugins.append((obj, name))
    reset()


def unregister_plugin(name: str) -> None:
    _extra_plugins[:] = [(o, n) for o, n in _extra_plugins if n != name]
    reset()


def reset() -> None:
    """Forget the loaded state; the next use loads plugins again (new entry points included)."""
    global _state
    _state = None


def _allowed() -> Callable[[str, str | None], bool]:
    raw = os.environ.get("GANZOO_LOAD_PLUGINS")
    if raw is None:
        return lambda name, dist: True
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    return lambda name, dist: name in wanted or (dist is not None and dist in wanted)


def _entry_points() -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    own = "torch-ganzoo"
    # Built-ins first, then third-party plugins by name: on a name clash the earlier one keeps it.
    return sorted(eps, key=lambda ep: (_dist_name(ep) != own, ep.name))


def ganzoo_entry_points() -> dict[str, list[str]]:
    """Installed distributions that declare "ganzoo" entry points, and those entry points' names."""
    found: dict[str, list[str]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(_dist_name(ep) or "?", []).append(ep.name)
    return {dist: sorted(names) for dist, names in found.items()}


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


def _load() -> PluginState:
    from . import core_plugin

    state = PluginState()
    state.add_plugin(core_plugin, CORE_PLUGIN, "torch-ganzoo", _own_version())
    allowed = _allowed()
    seen: set[str] = set()
    for ep in _entry_points():
        dist = _dist_name(ep)
        if not allowed(ep.name, dist) or (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        version = ep.dist.version if getattr(ep, "dist", None) is not None else None
        if ep.name in state.infos:
            state.infos[ep.name].errors.append(f"another plugin is already called {ep.name!r} ({ep.value} not loaded)")
            continue
        try:
            module = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit at import too: that plugin fails, the program goes on
            state.infos[ep.name] = PluginInfo(ep.name, dist, version, errors=[f"import failed: {_one_line(exc)}"])
            continue
        state.add_plugin(module, ep.name, dist, version)
    for obj, name in _extra_plugins:
        state.add_plugin(obj, name)
    state.fill_registries()
    return state


def _own_version() -> str | None:
    try:
        return metadata.version("torch-ganzoo")
    except metadata.PackageNotFoundError:
        return None


def _one_line(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" ({os.path.basename(where[0].filename)}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"
