"""How evaluate() calls a metric's compute function: the options it takes and the keywords it accepts.

Every compute takes the core arguments (samples, reference, extractor, seed); its keyword-only
parameters with defaults are its options (``-o kid.subset_size=500``), checked before anything
is computed and recorded in each number's protocol with their values in force.
"""

from __future__ import annotations

import inspect
from typing import Any

CORE_ARGS = ("samples", "reference", "extractor", "seed")  # what evaluate() passes to every compute


def takes(compute: Any, keyword: str) -> bool:
    """Whether ``compute`` accepts the keyword argument ``keyword`` (labels, sample_labels, ...)."""
    try:
        return keyword in inspect.signature(compute).parameters
    except (TypeError, ValueError):
        return False


def check_options(options: dict[str, dict[str, Any]], computes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-metric options, each checked against the keyword options its compute function accepts."""
    stray = [name for name in options if name not in computes]
    if stray:
        raise ValueError(f"options given for {stray[0]!r}, which is not among the metrics {list(computes)}")
    for name, given in options.items():
        known = tunable(computes[name])
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(computes[name]).parameters.values())
        bad = [k for k in given if k in CORE_ARGS or (k not in known and not takes_any)]
        if bad:
            raise ValueError(f"metric {name!r} has no option {bad[0]!r}; its options: {sorted(known) or 'none'}")
    return {name: dict(options.get(name, {})) for name in computes}


def tunable(compute: Any) -> dict[str, Any]:
    """A compute function's keyword options and their defaults (the core arguments left out)."""
    return {
        n: p.default
        for n, p in inspect.signature(compute).parameters.items()
        if p.kind is p.KEYWORD_ONLY and n not in CORE_ARGS
    }


def options_in_force(compute: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``compute`` with the value it runs with: the given ones over the defaults."""
    return {**tunable(compute), **given}
