"""evaluate(): score a generator with registered metrics, and write every number with its protocol.

A number without its protocol cannot be compared with another, so each metric's entry carries
how it was measured: the number of generated samples, the reference data and its size, the
feature extractor (and a hash of its weights), the seed and the metric options in force.

Default sample counts (one sample set serves all requested metrics: the largest default wins):
  points data: 2,500, the VEEGAN/PacGAN mode-collapse protocol;
  mnist_digits: 5,000, as many as mnist-5k holds, so its Fréchet distance compares equal sets;
  other image metrics (fid, kid, precision_recall, plugins'): 10,000 ("FID-10k"; papers often
  use 50,000, and FID is biased by sample count, so compare numbers of equal num_samples only).
Reference images: the whole data set, or a seeded random 50,000 of a larger one (num_reference).

A metric whose numbers cannot tell the samples apart gets a "degenerate" note beside them: when
every sample is the same, or every sample gives the same features (a classifier whose activations
are all zero for grey noise, say). Such numbers stay put while the generator changes, so they
say nothing about it; without the note they read like a measurement.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["evaluate", "write_results", "format_table", "default_num_samples",
           "POINTS_SAMPLES", "IMAGE_SAMPLES", "METRIC_SAMPLES", "MAX_REFERENCE"]

POINTS_SAMPLES = 2_500
IMAGE_SAMPLES = 10_000
METRIC_SAMPLES = {"mnist_digits": 5_000}  # image metrics whose default differs from IMAGE_SAMPLES
MAX_REFERENCE = 50_000
CORE_ARGS = ("samples", "reference", "extractor", "seed")  # what evaluate() passes to every compute


def default_num_samples(metrics: list[str], kind: str) -> int:
    """How many samples evaluate() draws when num_samples is not given (see the module docstring)."""
    if kind == "points":
        return POINTS_SAMPLES
    return max(METRIC_SAMPLES.get(name, IMAGE_SAMPLES) for name in metrics)


def evaluate(model_or_path: Any, data: str, metrics: list[str] | str, *, num_samples: int | None = None,
             num_reference: int | None = None, seed: int = 0, features: str = "inception",
             device: str | torch.device = "cpu", batch_size: int = 64,
             options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Score a model against data spec ``data`` with the named registered metrics.

    model_or_path: a GanModel, or anything ganzoo.load() takes (catalog name, "hf-hub:...", folder, run).
    features: the extractor spec for feature-based image metrics (see ganzoo.metrics.features).
    options: per-metric options, e.g. {"kid": {"subset_size": 500}}.
    Returns {"model", "data", "metrics": {name: {"value", "values", "protocol"}}}; "value" is the
    headline number (the metric's first), "values" all of them.
    """
    from .data import load_dataset, parse_spec
    from .plugins import get_state

    names = [metrics] if isinstance(metrics, str) else list(dict.fromkeys(metrics))
    registry = get_state().metrics
    if not names:
        raise ValueError(f"name at least one metric; registered: {', '.join(registry.names()) or 'none'}")
    specs = {name: registry.get(name) for name in names}  # UnknownNameError suggests close names
    entry, _ = parse_spec(data)
    for spec in specs.values():
        if entry.kind not in spec.data_kind.split(","):
            raise ValueError(f"metric {spec.name!r} needs {spec.data_kind} data, but {data!r} gives {entry.kind} data")
    computes = {name: _resolve(spec.compute) for name, spec in specs.items()}
    chosen = _check_options(options or {}, computes)
    if num_samples is None:
        num_samples = default_num_samples(names, entry.kind)
    for what, count in (("num_samples", num_samples), ("num_reference", num_reference)):
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"{what} must be a positive integer, got {count!r}")
    # a bad --features spec fails now; its weights load on first use (a metric may need none)
    extractor: Any = _cached_extractor(features, batch_size, device) if entry.kind == "image" else None

    model, model_name = _load_model(model_or_path, device)
    labels = (torch.arange(num_samples) % model.num_classes).tolist() if model.num_classes else None  # every class alike
    samples = model.sample(num_samples, seed=seed, labels=labels, batch_size=batch_size).cpu()  # (N, C, H, W) or (N, D)
    digits = _requested_digits(model, labels)
    _check_samples(samples, entry.kind, model_name, data)
    if entry.kind == "image":  # reference images at the model's resolution and channel count
        dataset, _ = load_dataset(data, image_size=samples.shape[-1], channels=samples.shape[1])
        from .metrics.builtin import as_images

        reference: Any = as_images(dataset, limit=num_reference or MAX_REFERENCE, seed=seed)
    else:
        reference = load_dataset(data)[0]
        if reference.tensor.shape[1] != samples.shape[1]:
            raise ValueError(f"{model_name} gives {samples.shape[1]}-d points but {data!r} has "
                             f"{reference.tensor.shape[1]}-d points")

    from .metrics.features import record_features

    results = {}
    same_samples = _all_same(samples)
    same_features: dict[int, bool] = {}  # id(extractor) -> whether every sample gives the same features
    for name in names:
        extra = {"labels": digits} if digits is not None and _takes(computes[name], "labels") else {}
        with record_features() as used:
            values = computes[name](samples, reference, extractor=extractor, seed=seed, **chosen[name], **extra)
        if not isinstance(values, dict) or not values:
            raise TypeError(f"metric {name!r} returned {type(values).__name__}; a compute function "
                            f"returns a non-empty dict of numbers")
        protocol = {"num_samples": num_samples, "seed": seed,
                    "reference": {"spec": data, "size": len(reference)},
                    "features": ", ".join(e.spec for e in used) or None,
                    "features_sha256": ", ".join(e.weights_sha256 or "?" for e in used) or None,
                    "options": _options_in_force(computes[name], chosen[name])}
        if labels is not None:
            protocol["labels"] = f"sample i asks for class i mod {model.num_classes}"
        results[name] = {"value": next(iter(values.values())), "values": values, "protocol": protocol}
        note = _degenerate_note(samples, used, extractor, same_samples, same_features)
        if note:
            results[name]["degenerate"] = note
    return {"model": model_name, "data": data, "metrics": results}


def _requested_digits(model: Any, labels: list[int] | None) -> torch.Tensor | None:
    """The digit each sample was asked for, when a conditional model's classes are the digits 0-9 (a digit
    judge can then check it drew that digit); None otherwise."""
    names = model.classes or []
    if labels is None or sorted(names) != [str(d) for d in range(10)]:
        return None
    return torch.tensor([int(names[i]) for i in labels])


def _takes(compute: Any, keyword: str) -> bool:
    import inspect

    try:
        return keyword in inspect.signature(compute).parameters
    except (TypeError, ValueError):
        return False


def write_results(result: dict[str, Any], path: str | Path) -> Path:
    """Write an evaluate() result as JSON (atomically: a temp file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per number, with the protocol it was measured under."""
    rows = [("metric", "value", "samples", "reference", "features")]
    for name, entry in result["metrics"].items():
        p = entry["protocol"]
        reference = f"{p['reference']['spec']} ({p['reference']['size']:,})"
        for key, value in entry["values"].items():
            label = name if key == name else f"{name}.{key}"
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            rows.append((label, text, f"{p['num_samples']:,}", reference, p["features"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i in (1, 2) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"degenerate {name}: {entry['degenerate']}" for name, entry in result["metrics"].items() if entry.get("degenerate")]
    return "\n".join([f"{result['model']} on {result['data']}, seed {_seed(result)}"] + lines + notes)


# ---- helpers ---------------------------------------------------------------------------------------


def _resolve(ref: Any) -> Any:
    from .registry import resolve_ref

    return resolve_ref(ref)


def _check_options(options: dict[str, dict[str, Any]], computes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-metric options, each checked against the keyword options its compute function accepts."""
    stray = [name for name in options if name not in computes]
    if stray:
        raise ValueError(f"options given for {stray[0]!r}, which is not among the metrics {list(computes)}")
    for name, given in options.items():
        known = _tunable(computes[name])
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(computes[name]).parameters.values())
        bad = [k for k in given if k in CORE_ARGS or (k not in known and not takes_any)]
        if bad:
            raise ValueError(f"metric {name!r} has no option {bad[0]!r}; its options: {sorted(known) or 'none'}")
    return {name: dict(options.get(name, {})) for name in computes}


def _tunable(compute: Any) -> dict[str, Any]:
    """A compute function's keyword options and their defaults (the core arguments left out)."""
    return {n: p.default for n, p in inspect.signature(compute).parameters.items()
            if p.kind is p.KEYWORD_ONLY and n not in CORE_ARGS}


def _options_in_force(compute: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {**_tunable(compute), **given}


def _load_model(model_or_path: Any, device: str | torch.device) -> tuple[Any, str]:
    from .model import GanModel

    if isinstance(model_or_path, GanModel):
        model, name = model_or_path.to(device), model_or_path.variant.name
    else:
        from .hub import load

        model, name = load(model_or_path, device=device), str(model_or_path)
    if model.variant.task != "sample":
        raise TypeError(f"{name} translates between domains ({model.variant.name}); evaluate scores "
                        f"generators that sample from noise")
    return model, name


def _check_samples(samples: torch.Tensor, kind: str, model_name: str, data: str) -> None:
    if kind == "image" and samples.dim() != 4:
        raise ValueError(f"{model_name} generates {tuple(samples.shape[1:])}-shaped points, but {data!r} is image data")
    if kind == "points" and samples.dim() != 2:
        raise ValueError(f"{model_name} generates images, but {data!r} is points data")
    if kind == "image" and not torch.isfinite(samples).all():  # points: mode coverage counts NaN as a miss
        raise ValueError(f"{model_name} generated NaN or Inf samples; there is nothing to score")


def _all_same(x: torch.Tensor) -> bool:
    """Whether all rows of ``x`` (N, ...) are equal, to float32 rounding; one row is not "all the same"."""
    if x.shape[0] < 2:
        return False
    flat = x.flatten(1).float()  # (N, D)
    return bool((flat - flat[:1]).abs().max() <= 1e-6 * max(1.0, float(flat.abs().max())))


def _degenerate_note(samples: torch.Tensor, used: list, extractor: Any, same_samples: bool,
                     same_features: dict[int, bool]) -> str | None:
    """Why a metric's numbers cannot tell these samples apart, or None when nothing says so."""
    n = samples.shape[0]
    if same_samples:
        return (f"all {n:,} generated samples are the same, so the numbers score one sample, not the generator's "
                f"spread (it ignores its noise: collapsed, or never trained)")
    for e in used:
        if id(e) not in same_features:
            same_features[id(e)] = _features_all_same(samples, e, extractor)
        if same_features[id(e)]:
            return (f"all {n:,} generated samples give the same {e.spec} features, so the numbers cannot tell "
                    f"them apart and will not move until the samples look different to that network "
                    f"(typical of a generator that has learnt nothing yet: noise or a flat grey)")
    return None


def _features_all_same(samples: torch.Tensor, e: Any, extractor: Any) -> bool:
    """Whether extractor ``e`` maps every sample to the same features; reuses evaluate's cached pass when there is one."""
    if extractor is not None and getattr(extractor, "_extractor", None) is e:  # loaded already: .extractor would load
        return _all_same(extractor(samples))  # the pass the metric made: no new work
    if not _all_same(e(samples[:64])):  # different features among the first few settle it cheaply
        return False
    return _all_same(e(samples))


def _cached_extractor(features: str, batch_size: int, device: str | torch.device) -> Any:
    from .metrics.features import CachedExtractor

    return CachedExtractor(features, batch_size=batch_size, device=device)


def _seed(result: dict[str, Any]) -> Any:
    seeds = {entry["protocol"]["seed"] for entry in result["metrics"].values()}
    return seeds.pop() if len(seeds) == 1 else sorted(seeds)
