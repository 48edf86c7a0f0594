"""Data specs: one string names a data set (``--data mnist-5k``, ``cifar10:ROOT``, ``path/to/images``).

Specs are registered by plugins (the core registers the built-ins), so a plugin can add its own.
"""

from __future__ import annotations

import os
from typing import Any

from ..registry import DatasetSpec, UnknownNameError

UNPAIRED_FOLDER = "unpaired"  # the spec a bare path with trainA/ and trainB/ stands for


def parse_spec(spec: str) -> tuple[DatasetSpec, str | None]:
    """Split "NAME[:ARG]" into its registered spec and argument; a bare existing path is a folder."""
    from ..plugins import get_state

    datasets = get_state().datasets
    name, sep, arg = spec.partition(":")
    if name in datasets:
        entry = datasets.get(name)
        if entry.needs_arg and not arg:
            raise ValueError(f"data spec {name!r} needs an argument: --data {name}:{entry.arg}")
        if not entry.needs_arg and sep:
            raise ValueError(f"data spec {name!r} takes no argument, got {spec!r}")
        return entry, (arg or None)
    if os.path.exists(spec) or os.sep in spec or spec.startswith("."):
        if UNPAIRED_FOLDER in datasets and _looks_unpaired(spec):
            return datasets.get(UNPAIRED_FOLDER), spec
        return datasets.get("folder"), spec
    raise UnknownNameError(
        datasets.unknown_message(name).replace("`ganzoo list`", "`ganzoo list --datasets`")
        + "; a folder of images can be given by its path"
    )


def load_dataset(
    spec: str, *, image_size: int = 32, channels: int = 1, options: dict[str, Any] | None = None
) -> tuple[Any, DatasetSpec]:
    """The torch Dataset that ``spec`` names, at ``image_size`` and ``channels``, and its spec entry.

    ``options`` are further keywords for the spec's load, among those its entry lists (an hf: data
    set's ``image_column``, say); None values are left out.
    """
    entry, arg = parse_spec(spec)
    options = check_options(entry, options)
    from ..registry import resolve_ref

    dataset = resolve_ref(entry.load)(arg, image_size=image_size, channels=channels, **options)
    return dataset, entry


def check_options(entry: DatasetSpec, options: dict[str, Any] | None) -> dict[str, Any]:
    """The options that are set, refused when ``entry`` does not take them (``--image-column`` on a folder, say)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    stray = sorted(set(options) - set(entry.options))
    if stray:
        flags = ", ".join("--" + k.replace("_", "-") for k in stray)
        raise ValueError(f"data spec {entry.name!r} takes no {flags} option ({', '.join(stray)})")
    return options


def _looks_unpaired(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "trainA")) and os.path.isdir(os.path.join(path, "trainB"))
