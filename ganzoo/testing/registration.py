"""Conformance checks of a variant's registration: its fields, references, config, and a light import."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import ganzoo
from ganzoo.config import make_config
from ganzoo.engine import Step
from ganzoo.plugins import get_state
from ganzoo.registry import PluginError, Variant
from ganzoo.tasks import DATA_KIND_TASKS, TASKS, for_data_kind, task_class

from .common import fail, resolve


def check_registration(variant: str) -> Variant:
    """The variant is registered by a plugin without errors, its fields are well formed, its lazy
    references resolve, and its config dataclass builds with defaults and survives config.json."""
    check = "registration"
    state = get_state()
    if variant not in ganzoo.list_variants():
        errors = [f"{i.name}: {e}" for i in state.infos.values() for e in i.errors]
        hint = f"; plugin errors: {'; '.join(errors)}" if errors else " (is the plugin installed? `ganzoo plugins`)"
        raise fail(variant, check, f"no plugin registered it{hint}")
    v = ganzoo.info(variant)
    info = state.infos.get(v.plugin)
    if not v.plugin or info is None:
        raise fail(variant, check, "the registry did not record which plugin registered it")
    if info.errors:
        raise fail(variant, check, f"plugin {v.plugin!r} reported errors: {'; '.join(info.errors)}")
    for name in ("summary", "paper"):
        value = getattr(v, name)
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise fail(variant, check, f"Variant.{name} must be one non-empty line, got {value!r}")
    _check_task(v, check)

    cls = resolve(v, "config", check)
    build = resolve(v, "build", check)
    step = resolve(v, "step", check)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise fail(variant, check, f"config must be a dataclass class, got {cls!r}")
    no_default = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if no_default:
        raise fail(
            variant,
            check,
            f"config field(s) {', '.join(no_default)} have no default; every field needs "
            f"one (the paper's value) so that `ganzoo.create({variant!r})` works",
        )
    try:
        config = cls()
    except Exception as exc:
        raise fail(variant, check, f"{cls.__name__}() with its defaults raised {type(exc).__name__}: {exc}") from exc
    _check_json_round_trip(variant, check, cls, config)
    if not callable(build):
        raise fail(variant, check, f"build must be callable as build(config) -> dict of networks, got {build!r}")
    if not (isinstance(step, type) and issubclass(step, Step)):
        raise fail(variant, check, f"step must be a subclass of ganzoo.engine.Step, got {step!r}")
    missing = [m for m in ("optimizers", "__call__") if getattr(step, m) is getattr(Step, m)]
    if missing:
        raise fail(variant, check, f"{step.__name__} must implement {' and '.join(missing)}")
    return v


def _check_task(v: Variant, check: str) -> None:
    """The data kinds are known, the task is a built-in name or a Task class, and the task serves every data kind."""
    kinds, known = v.data_kind.split(","), list(DATA_KIND_TASKS)
    if not kinds or any(k not in known for k in kinds):
        raise fail(
            v.name, check, f"data_kind {v.data_kind!r} must be one or more of {', '.join(known)}, comma-separated"
        )
    try:
        cls = task_class(v)
    except PluginError as exc:
        if isinstance(v.task, str) and ":" in v.task:  # a "module:Class" reference that does not load
            raise fail(v.name, check, str(exc)) from exc
        raise fail(v.name, check, f"task must be one of {', '.join(TASKS)}, got {v.task!r}") from exc
    if any(for_data_kind(k).translates != cls.translates for k in kinds):
        raise fail(
            v.name,
            check,
            f"task {v.task!r} does not fit data_kind {v.data_kind!r}: translate variants "
            f"train on unpaired or paired data, sample variants on image or points data",
        )


def _check_json_round_trip(variant: str, check: str, cls: type, config: Any) -> None:
    """config.json holds the config; rebuilding it from there must give an equal config."""
    try:
        text = json.dumps(dataclasses.asdict(config))
    except TypeError as exc:
        raise fail(variant, check, f"the config cannot be written to config.json: {exc}") from exc
    back = make_config(cls, json.loads(text), variant=variant)
    if back != config:
        raise fail(
            variant,
            check,
            f"the config changes through config.json: {config!r} came back as {back!r}; "
            f"use JSON types (a tuple field needs a tuple default)",
        )


def check_import_is_light(variant: str) -> None:
    """In a fresh interpreter, listing the plugin's variants and reading its config class (what
    `ganzoo list` and `ganzoo info` do) must not import torch. Needs an installed plugin."""
    check = "import-is-light"
    v = ganzoo.info(variant)
    info = get_state().infos.get(v.plugin)
    if info is None or info.distribution is None:
        raise fail(
            variant,
            check,
            f"plugin {v.plugin!r} was registered in-process, not installed; "
            f"install it (`pip install -e .`) to check its import in a fresh interpreter",
        )
    code = (
        "import json, sys, ganzoo\n"
        f"listed = {variant!r} in ganzoo.list_variants()\n"
        "after_list = 'torch' in sys.modules\n"
        f"ganzoo.info({variant!r}).load_config_class()\n"
        "print(json.dumps([listed, after_list, 'torch' in sys.modules]))\n"
    )
    env = dict(os.environ, GANZOO_LOAD_PLUGINS=v.plugin)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if done.returncode:
        raise fail(variant, check, f"a fresh interpreter could not list it:\n{done.stderr.strip()}")
    listed, after_list, after_config = json.loads(done.stdout.strip().splitlines()[-1])
    if not listed:
        raise fail(
            variant,
            check,
            f"a fresh interpreter with GANZOO_LOAD_PLUGINS={v.plugin} does not list it "
            f"(is the plugin installed, or only on this process's sys.path?)",
        )
    if after_list:
        raise fail(
            variant,
            check,
            "importing the plugin package imports torch; keep __init__.py to hookimpls "
            "and lazy 'module:attr' strings so `ganzoo list` stays instant",
        )
    if after_config:
        raise fail(
            variant,
            check,
            "importing the config class imports torch; `ganzoo info` reads config "
            "defaults, so keep the config module free of torch",
        )
