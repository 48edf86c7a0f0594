"""Installing and uninstalling plugin distributions with pip, and telling which of them are plugins.

`ganzoo install` runs pip in the interpreter that runs ganzoo, then compares the distributions
that declare entry points in the "ganzoo" group before and after, so it can say which plugins
arrived and which installed packages are no plugin at all.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


class PipError(RuntimeError):
    """pip exited with an error (its own output has said why)."""


@dataclass
class Installed:
    """What an install changed: plugin entry points by distribution, and named packages that are no plugin."""

    added: dict[str, list[str]] = field(default_factory=dict)
    not_plugins: list[str] = field(default_factory=list)


def install(
    packages: tuple[str, ...] | list[str], editables: tuple[str, ...] | list[str] = (), upgrade: bool = False
) -> Installed:
    """pip-install ``packages`` (and local projects ``editables`` in development mode); report the plugins."""
    from .plugins import ganzoo_entry_points

    before = ganzoo_entry_points()
    args = [*packages] + [x for path in editables for x in ("-e", path)]
    pip("install", *(["--upgrade"] if upgrade else []), *args)
    after = ganzoo_entry_points()
    added = {dist: names for dist, names in after.items() if names != before.get(dist)}
    wanted = {dist_name(p) for p in packages} | {project_name(p) for p in editables}
    plugins = {normal(d) for d in after}
    return Installed(added, sorted(w for w in wanted if w and normal(w) not in plugins))


def uninstall(packages: tuple[str, ...] | list[str]) -> None:
    """pip-uninstall ``packages`` without asking."""
    pip("uninstall", "-y", *packages)


def pip(*args: str) -> None:
    """Run pip of this interpreter; PipError when it fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *args])
    if done.returncode:
        raise PipError(f"pip {args[0]} failed (exit {done.returncode})")


def dist_name(requirement: str) -> str | None:
    """The distribution a requirement names, or None for a path or URL."""
    try:
        from packaging.requirements import Requirement

        return Requirement(requirement).name
    except Exception:  # a path or URL: pip resolves it, the entry-point diff reports it
        return None


def project_name(path: str) -> str | None:
    """The project name in a local project's pyproject.toml, or None when it cannot be read."""
    try:
        import tomllib  # Python 3.11+; on 3.10 the entry-point diff alone reports the result

        return tomllib.loads((Path(path) / "pyproject.toml").read_text())["project"]["name"]
    except Exception:
        return None


def normal(name: str) -> str:
    """A distribution name in its normal form (PEP 503), for comparisons."""
    return re.sub(r"[-_.]+", "-", name).lower()
