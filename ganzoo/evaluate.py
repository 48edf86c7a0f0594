"""evaluate(): score a generator with registered metrics, and write every number with its protocol.

A number without its protocol cannot be compared with another, so each metric's entry carries
how it was measured: the protocol preset (ganzoo.metrics.protocols), the number of generated
samples, the reference data and its size (and whether its features came from the cache or a
statistics file), the feature extractor (and a hash of its weights), the seed and the metric
options in force. FID, KID, IS and precision/recall are torch-fidelity's (ganzoo.metrics.fidelity).

Default sample counts (one sample set serves all requested metrics: the largest default wins):
  points data: 2,500, the VEEGAN/PacGAN mode-collapse protocol;
  mnist_digits: 5,000, as many as mnist-5k holds, so its Fréchet distance compares equal sets;
  stacked_mnist_modes: 26,000, the VEEGAN/PacGAN Stacked-MNIST protocol;
  other image metrics (fid, kid, is, precision_recall, density_coverage, plugins'): 10,000
  ("FID-10k"; papers use 50,000 (--protocol fid50k-full), and FID is biased by sample count, so
  compare numbers of equal num_samples only).
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
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["evaluate", "write_results", "format_table", "default_num_samples",
           "POINTS_SAMPLES", "IMAGE_SAMPLES", "METRIC_SAMPLES", "MAX_REFERENCE"]

POINTS_SAMPLES = 2_500
IMAGE_SAMPLES = 10_000
METRIC_SAMPLES = {"mnist_digits": 5_000,  # image metrics whose default differs from IMAGE_SAMPLES
                  "stacked_mnist_modes": 26_000}  # the VEEGAN/PacGAN count
MAX_REFERENCE = 50_000
CORE_ARGS = ("samples", "reference", "extractor", "seed")  # what evaluate() passes to every compute
TRANSLATION_KINDS = ("unpaired", "paired")  # data kinds whose metrics take compute(model, data, *, seed, **options)


def default_num_samples(metrics: list[str], kind: str) -> int:
    """How many samples evaluate() draws when num_samples is not given (see the module docstring)."""
    if kind == "points":
        return POINTS_SAMPLES
    return max(METRIC_SAMPLES.get(name, IMAGE_SAMPLES) for name in metrics)


def evaluate(model_or_path: Any, data: str | None, metrics: list[str] | str, *, num_samples: int | None = None,
             num_reference: int | None = None, seed: int = 0, features: str | None = None,
             device: str | torch.device | None = None, batch_size: int = 64,
             options: dict[str, dict[str, Any]] | None = None, protocol: str = "custom",
             ref_stats: str | os.PathLike | None = None, inception_weights: str | os.PathLike | None = None,
             cache: bool = True) -> dict[str, Any]:
    """Score a model, or a folder of generated images, against data spec ``data`` with the named metrics.

    On translation data (unpaired, paired) a translation model is scored by what it makes of held-out
    source images ("translation": ganzoo.metrics.translation); the sample and feature options do not apply.

    model_or_path: a GanModel, anything ganzoo.load() takes (catalog name, "hf-hub:...", model folder,
    run), or a folder of images made by any generator.
    protocol: a preset of ganzoo.metrics.protocols that pins the counts and extractor, or "custom".
    features: the extractor spec for FID/KID/IS/precision-recall (ganzoo.metrics.features); "inception" by default.
    ref_stats: a .npz with the reference's FID statistics (mu, sigma); ``data`` may then be None for FID alone.
    inception_weights: the FID Inception's weights file (else the cache, else a download when online).
    device: where features are extracted; None picks CUDA when there is one.
    options: per-metric options, e.g. {"kid": {"subset_size": 500}}.
    cache: reuse and store the reference's features under $GANZOO_CACHE/reference-features.
    Returns {"model", "data", "protocol", "metrics": {name: {"value", "values", "protocol"}}}; "value" is
    the headline number (the metric's first), "values" all of them.
    """
    from .data import load_dataset, parse_spec
    from .metrics.protocols import get_protocol
    from .plugins import get_state

    names = [metrics] if isinstance(metrics, str) else list(dict.fromkeys(metrics))
    registry = get_state().metrics
    if not names:
        raise ValueError(f"name at least one metric; registered: {', '.join(registry.names()) or 'none'}")
    specs = {name: registry.get(name) for name in names}  # UnknownNameError suggests close names
    preset = get_protocol(protocol)
    num_samples, num_reference, features = _apply_protocol(preset, num_samples, num_reference, features)
    if data is None and (ref_stats is None or names != ["fid"]):
        raise ValueError("name the reference data (--data SPEC); without it only --metrics fid with --ref-stats FILE works")
    kind = parse_spec(data)[0].kind if data is not None else "image"
    for spec in specs.values():
        if kind not in spec.data_kind.split(","):
            raise ValueError(f"metric {spec.name!r} needs {spec.data_kind} data, but {data!r} gives {kind} data")
    computes = {name: _resolve(spec.compute) for name, spec in specs.items()}
    chosen = _check_options(options or {}, computes)
    if kind in TRANSLATION_KINDS:  # a translation model is scored on held-out pairs: nothing to sample
        return _evaluate_translation(model_or_path, data, computes, chosen, seed, device, preset)
    from_folder = _is_image_folder(model_or_path)
    if num_samples is None and not from_folder:  # a folder's images are all scored unless a count is given
        num_samples = default_num_samples(names, kind)
    for what, count in (("num_samples", num_samples), ("num_reference", num_reference)):
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"{what} must be a positive integer, got {count!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    # a bad --features spec fails now; its weights load on first use (a metric may need none)
    extractor: Any = _cached_extractor(features, batch_size, device, inception_weights) if kind == "image" else None

    digits = labels = class_info = None
    if from_folder:
        samples, model_name = _folder_samples(model_or_path, num_samples, seed), str(model_or_path)
        num_samples = samples.shape[0]
    else:
        model, model_name = _load_model(model_or_path, device)
        labels = (torch.arange(num_samples) % model.num_classes).tolist() if model.num_classes else None  # every class alike
        samples = model.sample(num_samples, seed=seed, labels=labels, batch_size=batch_size).cpu()  # (N, C, H, W) or (N, D)
        digits = _requested_digits(model, labels)
    _check_samples(samples, kind, model_name, data)
    reference_info: dict[str, Any] = {"spec": data}
    if kind == "image":  # reference images at the samples' resolution and channel count
        from .metrics.builtin import as_images
        from .metrics.reference import Reference

        if data is not None and not any(spec.uses_reference for spec in specs.values()):
            reference, dataset = torch.empty(0, *samples.shape[1:]), []  # e.g. mode counts: nothing to compare with
        elif data is not None:
            dataset, _ = load_dataset(data, image_size=samples.shape[-1], channels=samples.shape[1])
            reference: Any = as_images(dataset, limit=num_reference or MAX_REFERENCE, seed=seed)
            class_info = _reference_classes(dataset, num_reference or MAX_REFERENCE, seed, model if labels else None)
        else:
            reference = torch.empty(0, *samples.shape[1:])
        ref = Reference(reference, {"spec": data, "seed": seed, "image_size": samples.shape[-1]},
                        stats_file=ref_stats, cache=cache)
        extractor.reference = ref
        reference_info.update(size=len(reference) or None, of=len(dataset) or None if data is not None else None)
    else:
        reference = load_dataset(data)[0]
        reference_info["size"] = len(reference)
        if reference.tensor.shape[1] != samples.shape[1]:
            raise ValueError(f"{model_name} gives {samples.shape[1]}-d points but {data!r} has "
                             f"{reference.tensor.shape[1]}-d points")

    from .metrics.features import record_features

    results = {}
    same_samples = _all_same(samples)
    same_features: dict[int, bool] = {}  # id(extractor) -> whether every sample gives the same features
    for name in names:
        extra = {"labels": digits} if digits is not None and _takes(computes[name], "labels") else {}
        if labels is not None and _takes(computes[name], "sample_labels"):
            extra["sample_labels"] = torch.tensor(labels)
        if class_info is not None and _takes(computes[name], "reference_labels"):
            extra["reference_labels"] = class_info
        with record_features() as used, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = computes[name](samples, reference, extractor=extractor, seed=seed, **chosen[name], **extra)
        if not isinstance(values, dict) or not values:
            raise TypeError(f"metric {name!r} returned {type(values).__name__}; a compute function "
                            f"returns a non-empty dict of numbers")
        entry = {"num_samples": num_samples, "seed": seed, "reference": dict(reference_info),
                 "features": ", ".join(e.spec for e in used) or None,
                 "features_sha256": ", ".join(e.weights_sha256 or "?" for e in used) or None,
                 "options": _options_in_force(computes[name], chosen[name]),
                 "protocol": preset.name}
        if used and extractor is not None and extractor.reference is not None:
            entry["reference"]["features_from"] = extractor.reference.source
        if labels is not None:
            entry["labels"] = f"sample i asks for class i mod {model.num_classes}"
        results[name] = {"value": next(iter(values.values())), "values": values, "protocol": entry}
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        for note in notes:
            warnings.warn(note, stacklevel=2)
        if notes:
            results[name]["warnings"] = notes
        note = _degenerate_note(samples, used, extractor, same_samples, same_features)
        if note:
            results[name]["degenerate"] = note
    return {"model": model_name, "data": data, "protocol": {"name": preset.name, "summary": preset.summary},
            "metrics": results}


def _apply_protocol(preset: Any, num_samples: int | None, num_reference: int | None,
                    features: str | None) -> tuple[int | None, int | None, str]:
    """The counts and extractor in force: a named preset's, refusing flags that contradict it."""
    if preset.name == "custom":
        return num_samples, num_reference, features or "inception"
    for what, given, pinned in (("num_samples", num_samples, preset.num_samples),
                                ("num_reference", num_reference, preset.num_reference),
                                ("features", features, preset.features)):
        if given is not None and given != pinned and not (what == "features" and _same_features(given, pinned)):
            raise ValueError(f"protocol {preset.name!r} pins {what} to {pinned!r}, but {given!r} was given: "
                             f"drop the flag, or use --protocol custom")
    return preset.num_samples, preset.num_reference, preset.features


def _same_features(a: str, b: str) -> bool:
    from .metrics.features import canonical_spec

    return canonical_spec(a) == canonical_spec(b)


def _is_image_folder(path: Any) -> bool:
    """A folder of images that is not a ganzoo model or run folder (those hold config.json)."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        return False
    return not os.path.exists(os.path.join(path, "config.json"))


def _folder_samples(path: Any, num_samples: int | None, seed: int) -> torch.Tensor:
    """The images of a folder as samples (N, C, H, W) in [-1, 1], at the first image's size and mode."""
    from PIL import Image

    from .data.folder import find_images, load_folder
    from .metrics.builtin import as_images

    files = find_images(path)
    with Image.open(files[0]) as first:
        size, channels = min(first.size), (1 if first.mode in ("1", "L", "I;16", "I", "F") else 3)
    dataset = load_folder(str(path), image_size=size, channels=channels)
    if num_samples is not None and num_samples > len(dataset):
        raise ValueError(f"{path} holds {len(dataset):,} images, fewer than the {num_samples:,} samples asked "
                         f"for: generate more, or pass -n {len(dataset)} (with --protocol custom)")
    return as_images(dataset, limit=num_samples, seed=seed)


def _reference_classes(dataset: Any, limit: int, seed: int, model: Any) -> torch.Tensor | None:
    """The reference images' labels in the model's class numbering (by class name when both have names)."""
    from .metrics.builtin import reference_labels

    found = reference_labels(dataset, limit=limit, seed=seed)
    if found is None or model is None:
        return None
    labels, names = found
    if names and model.classes and list(names) != list(model.classes):
        index = {name: i for i, name in enumerate(model.classes)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(f"the reference data's class {missing[0]!r} is not one of the model's classes {model.classes}")
        labels = torch.tensor([index[names[i]] for i in labels.tolist()])
    return labels


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
        ref = p["reference"]
        reference = f"{ref['spec'] or ref.get('features_from', '-')}" + (f" ({ref['size']:,})" if ref.get("size") else "")
        for key, value in entry["values"].items():
            label = name if key == name else f"{name}.{key}"
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            rows.append((label, text, f"{p['num_samples']:,}", reference, p["features"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i in (1, 2) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    if result.get("protocol"):
        notes.append(f"protocol {result['protocol']['name']}: {result['protocol']['summary']}")
    sources = {e["protocol"]["reference"].get("features_from") for e in result["metrics"].values()} - {None, "not used"}
    notes += [f"reference features: {source}" for source in sorted(sources)]
    notes += [f"degenerate {name}: {entry['degenerate']}" for name, entry in result["metrics"].items() if entry.get("degenerate")]
    notes += [f"warning {name}: {w}" for name, entry in result["metrics"].items() for w in entry.get("warnings", [])]
    against = result["data"] or "published reference statistics"
    return "\n".join([f"{result['model']} on {against}, seed {_seed(result)}"] + lines + notes)


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


def _evaluate_translation(model_or_path: Any, data: str, computes: dict[str, Any], chosen: dict[str, dict[str, Any]],
                          seed: int, device: Any, preset: Any) -> dict[str, Any]:
    """evaluate() for translation data: each metric scores the model itself, compute(model, data, seed=, **options)."""
    from .model import GanModel

    if isinstance(model_or_path, GanModel):
        model, name = model_or_path.to(device or "cpu"), model_or_path.variant.name
    else:
        from .hub import load

        model, name = load(model_or_path, device=device), str(model_or_path)
    if model.variant.task != "translate":
        raise ValueError(f"{name} samples from noise ({model.variant.name}), but {data!r} is translation data: "
                         f"score it against image data")
    results = {}
    for metric, compute in computes.items():
        values = dict(compute(model, data, seed=seed, **chosen[metric]))
        count = int(values.pop("holdout_images", 0))  # how many source images it translated
        entry = {"num_samples": count, "seed": seed, "reference": {"spec": data, "size": count or None}, "features": None,
                 "features_sha256": None, "options": _options_in_force(compute, chosen[metric]), "protocol": preset.name}
        results[metric] = {"value": next(iter(values.values())), "values": values, "protocol": entry}
    return {"model": name, "data": data, "protocol": {"name": preset.name, "summary": preset.summary}, "metrics": results}


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


def _cached_extractor(features: str, batch_size: int, device: str | torch.device, inception_weights: Any) -> Any:
    from .metrics.features import CachedExtractor

    return CachedExtractor(features, batch_size=batch_size, device=device,
                           inception_weights=str(inception_weights) if inception_weights else None)


def _seed(result: dict[str, Any]) -> Any:
    seeds = {entry["protocol"]["seed"] for entry in result["metrics"].values()}
    return seeds.pop() if len(seeds) == 1 else sorted(seeds)
