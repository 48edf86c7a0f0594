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

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from .eval_folder import folder_samples, is_image_folder
from .eval_labels import label_arguments, reference_classes, requested_digits
from .eval_report import format_table, write_results
from .metrics import sharding
from .metrics.calling import check_options, options_in_force
from .tasks import POINTS_SAMPLES, Task, for_data_kind

__all__ = [
    "evaluate",
    "write_results",
    "format_table",
    "default_num_samples",
    "default_metrics",
    "POINTS_SAMPLES",
    "IMAGE_SAMPLES",
    "METRIC_SAMPLES",
    "MAX_REFERENCE",
]

IMAGE_SAMPLES = 10_000
METRIC_SAMPLES = {
    "mnist_digits": 5_000,  # image metrics whose default differs from IMAGE_SAMPLES
    "stacked_mnist_modes": 26_000,
}  # the VEEGAN/PacGAN count
MAX_REFERENCE = 50_000


def default_num_samples(metrics: list[str], kind: str) -> int:
    """How many samples evaluate() draws when num_samples is not given (see the module docstring)."""
    return for_data_kind(kind).evaluation_samples or max(METRIC_SAMPLES.get(name, IMAGE_SAMPLES) for name in metrics)


def default_metrics(data: str | None) -> list[str]:
    """What `ganzoo eval` scores when no metric is named: what fits the data (its task says), FID without data."""
    if not data:
        return ["fid"]
    from .data import parse_spec

    entry = parse_spec(data)[0]
    return list(for_data_kind(entry.kind).eval_metrics(entry.name))


@dataclass
class _Metrics:
    """The metrics of one evaluation: their compute functions and options, and the data they score."""

    names: list[str]
    specs: dict[str, Any]
    computes: dict[str, Any] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = "image"  # the data kind of the reference
    task: type[Task] = Task  # the task class serving that data kind


@dataclass
class _Samples:
    """What the model (or folder) generated for an evaluation, and which classes were asked for."""

    images: torch.Tensor  # (N, C, H, W) or (N, D)
    model_name: str
    model: Any = None  # None for a folder of images
    labels: list[int] | None = None  # the class each sample asked for (conditional models)
    digits: torch.Tensor | None = None  # (N,) the digit each asked for, where the classes are the digits
    info: dict[str, Any] = field(default_factory=dict)  # the evaluation size and channels, for the protocol


def evaluate(
    model_or_path: Any,
    data: str | None,
    metrics: list[str] | str,
    *,
    num_samples: int | None = None,
    num_reference: int | None = None,
    seed: int = 0,
    features: str | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    options: dict[str, dict[str, Any]] | None = None,
    protocol: str = "custom",
    ref_stats: str | os.PathLike | None = None,
    inception_weights: str | os.PathLike | None = None,
    cache: bool = True,
) -> dict[str, Any]:
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
    from .metrics.protocols import get_protocol

    chosen = _metric_specs(metrics)
    preset = get_protocol(protocol)
    num_samples, num_reference, features = _apply_protocol(preset, num_samples, num_reference, features)
    _fit_metrics(chosen, data, ref_stats, options or {})
    if chosen.task.translates:  # a translation model is scored on held-out pairs: nothing to sample
        return _evaluate_translation(model_or_path, data, chosen, seed, device, preset)
    from_folder = is_image_folder(model_or_path)
    if num_samples is None and not from_folder:  # a folder's images are all scored unless a count is given
        num_samples = default_num_samples(chosen.names, chosen.kind)
    for what, count in (("num_samples", num_samples), ("num_reference", num_reference)):
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"{what} must be a positive integer, got {count!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    # a bad --features spec fails now; its weights load on first use (a metric may need none)
    extractor = None if chosen.task.flat else _cached_extractor(features, batch_size, device, inception_weights)
    drawn = _draw_samples(model_or_path, from_folder, num_samples, seed, batch_size, device)
    _check_samples(drawn, chosen.task, data)
    reference, reference_info, class_info = _reference(data, drawn, chosen, num_reference, seed)
    if extractor is not None:
        from .metrics.reference import Reference

        extractor.reference = Reference(
            reference,
            {"spec": data, "seed": seed, "image_size": drawn.images.shape[-1]},
            stats_file=ref_stats,
            cache=cache,
        )
    results = _score_all(chosen, drawn, reference, reference_info, class_info, extractor, seed, preset)
    return _result(drawn.model_name, data, preset, results)


def _metric_specs(metrics: list[str] | str) -> _Metrics:
    """The registered metrics named (UnknownNameError suggests close names), each once, in order."""
    from .plugins import get_state

    names = [metrics] if isinstance(metrics, str) else list(dict.fromkeys(metrics))
    registry = get_state().metrics
    if not names:
        raise ValueError(f"name at least one metric; registered: {', '.join(registry.names()) or 'none'}")
    return _Metrics(names, {name: registry.get(name) for name in names})


def _fit_metrics(chosen: _Metrics, data: str | None, ref_stats: Any, options: dict[str, dict[str, Any]]) -> None:
    """Check the metrics against the data (its kind and task) and their options; resolve their compute functions."""
    from .data import parse_spec
    from .registry import resolve_ref

    if data is None and (ref_stats is None or chosen.names != ["fid"]):
        raise ValueError(
            "name the reference data (--data SPEC); without it only --metrics fid with --ref-stats FILE works"
        )
    chosen.kind = parse_spec(data)[0].kind if data is not None else "image"
    chosen.task = for_data_kind(chosen.kind)
    for spec in chosen.specs.values():
        if chosen.kind not in spec.data_kind.split(","):
            raise ValueError(f"metric {spec.name!r} needs {spec.data_kind} data, but {data!r} gives {chosen.kind} data")
    chosen.computes = {name: resolve_ref(spec.compute) for name, spec in chosen.specs.items()}
    chosen.options = check_options(options, chosen.computes)


def _draw_samples(
    model_or_path: Any, from_folder: bool, num_samples: int | None, seed: int, batch_size: int, device: Any
) -> _Samples:
    """The samples to score: a folder's images, or ``num_samples`` drawn through the model's task."""
    if from_folder:
        images, info = folder_samples(model_or_path, num_samples, seed)
        return _Samples(images, str(model_or_path), info=info)
    model, name = _load_model(model_or_path, device, translation=False)
    labels = model.task.evaluation_labels(num_samples)  # every class alike, or None
    images = sharding.sample(model, num_samples, seed=seed, labels=labels, batch_size=batch_size)  # (N, C, H, W)
    info = {"image_size": images.shape[-1], "channels": images.shape[1]} if images.dim() == 4 else {}
    return _Samples(images, name, model, labels, requested_digits(model, labels), info)


def _reference(
    data: str | None, drawn: _Samples, chosen: _Metrics, num_reference: int | None, seed: int
) -> tuple[Any, dict[str, Any], torch.Tensor | None]:
    """The reference the samples are scored against, its protocol record, and its labels in the model's classes."""
    from .data import load_dataset

    samples, info = drawn.images, {"spec": data}
    if chosen.task.flat:
        reference = load_dataset(data)[0]
        info["size"] = len(reference)
        if reference.tensor.shape[1] != samples.shape[1]:
            raise ValueError(
                f"{drawn.model_name} gives {samples.shape[1]}-d points but {data!r} has "
                f"{reference.tensor.shape[1]}-d points"
            )
        return reference, info, None
    empty = torch.empty(0, *samples.shape[1:])  # (0, C, H, W)
    if data is None:  # FID against published statistics
        return empty, {**info, "size": None, "of": None}, None
    if not any(spec.uses_reference for spec in chosen.specs.values()):  # e.g. mode counts: nothing to compare with
        return empty, {**info, "size": None, "of": None}, None
    from .metrics.builtin import as_images

    limit = num_reference or MAX_REFERENCE
    dataset, _ = load_dataset(data, image_size=samples.shape[-1], channels=samples.shape[1])
    reference = as_images(dataset, limit=limit, seed=seed)  # at the samples' resolution and channel count
    class_info = reference_classes(dataset, limit, seed, drawn.model if drawn.labels else None)
    return reference, {**info, "size": len(reference) or None, "of": len(dataset) or None}, class_info


def _score_all(
    chosen: _Metrics,
    drawn: _Samples,
    reference: Any,
    reference_info: dict[str, Any],
    class_info: torch.Tensor | None,
    extractor: Any,
    seed: int,
    preset: Any,
) -> dict[str, Any]:
    """Every metric's numbers, protocol record, warnings and degenerate note."""
    from .metrics.degenerate import all_same, degenerate_note
    from .metrics.features import record_features

    samples, results = drawn.images, {}
    same_samples = all_same(samples)
    same_features: dict[int, bool] = {}  # id(extractor) -> whether every sample gives the same features
    for name in chosen.names:
        compute = chosen.computes[name]
        extra = label_arguments(compute, drawn, class_info)
        with record_features() as used, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = compute(samples, reference, extractor=extractor, seed=seed, **chosen.options[name], **extra)
        if not isinstance(values, dict) or not values:
            raise TypeError(
                f"metric {name!r} returned {type(values).__name__}; a compute function "
                f"returns a non-empty dict of numbers"
            )
        record = _protocol_record(samples.shape[0], seed, reference_info, used, compute, chosen.options[name], preset)
        record.update(drawn.info)
        if used and extractor is not None and extractor.reference is not None:
            record["reference"]["features_from"] = extractor.reference.source
        note = drawn.model.task.evaluation_labels_note() if drawn.labels is not None else None
        if note:
            record["labels"] = note
        results[name] = {"value": next(iter(values.values())), "values": values, "protocol": record}
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        for text in notes:
            warnings.warn(text, stacklevel=3)
        if notes:
            results[name]["warnings"] = notes
        degenerate = degenerate_note(samples, used, extractor, same_samples, same_features)
        if degenerate:
            results[name]["degenerate"] = degenerate
    return results


def _protocol_record(
    num_samples: int,
    seed: int,
    reference_info: dict[str, Any],
    used: list,
    compute: Any,
    options: dict[str, Any],
    preset: Any,
) -> dict[str, Any]:
    """How one metric was measured: counts, seed, reference, feature extractors (and their weights), options."""
    return {
        "num_samples": num_samples,
        "seed": seed,
        "reference": dict(reference_info),
        "features": ", ".join(e.spec for e in used) or None,
        "features_sha256": ", ".join(e.weights_sha256 or "?" for e in used) or None,
        "options": options_in_force(compute, options),
        "protocol": preset.name,
    }


def _result(model_name: str, data: str | None, preset: Any, results: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model_name,
        "data": data,
        "protocol": {"name": preset.name, "summary": preset.summary},
        "metrics": results,
    }


def _evaluate_translation(
    model_or_path: Any, data: str, chosen: _Metrics, seed: int, device: Any, preset: Any
) -> dict[str, Any]:
    """evaluate() for translation data: each metric scores the model itself, compute(model, data, seed=, **options)."""
    model, name = _load_model(model_or_path, device, translation=True, data=data)
    results = {}
    for metric, compute in chosen.computes.items():
        values = dict(compute(model, data, seed=seed, **chosen.options[metric]))
        count = int(values.pop("holdout_images", 0))  # how many source images it translated
        record = _protocol_record(
            count, seed, {"spec": data, "size": count or None}, [], compute, chosen.options[metric], preset
        )
        results[metric] = {"value": next(iter(values.values())), "values": values, "protocol": record}
    return _result(name, data, preset, results)


def _load_model(model_or_path: Any, device: Any, *, translation: bool, data: str | None = None) -> tuple[Any, str]:
    """The model to score and its name; refuses one whose task does not fit the data (sampling or translation)."""
    from .model import GanModel

    if isinstance(model_or_path, GanModel):
        model, name = model_or_path.to(device or "cpu"), model_or_path.variant.name
    else:
        from .pretrained.names import load

        model, name = load(model_or_path, device=device), str(model_or_path)
    if translation and not model.task.translates:
        raise ValueError(
            f"{name} samples from noise ({model.variant.name}), but {data!r} is translation data: "
            f"score it against image data"
        )
    if not translation and not model.task.samples:
        raise TypeError(
            f"{name} translates between domains ({model.variant.name}); evaluate scores "
            f"generators that sample from noise"
        )
    return model, name


def _check_samples(drawn: _Samples, task: type[Task], data: str | None) -> None:
    """Refuse samples of the wrong shape for the data (images for points, say) and non-finite images."""
    samples, model_name = drawn.images, drawn.model_name
    if not task.flat and samples.dim() != 4:
        raise ValueError(f"{model_name} generates {tuple(samples.shape[1:])}-shaped points, but {data!r} is image data")
    if task.flat and samples.dim() != 2:
        raise ValueError(f"{model_name} generates images, but {data!r} is points data")
    if not task.flat and not torch.isfinite(samples).all():  # points: mode coverage counts NaN as a miss
        raise ValueError(f"{model_name} generated NaN or Inf samples; there is nothing to score")


def _apply_protocol(
    preset: Any, num_samples: int | None, num_reference: int | None, features: str | None
) -> tuple[int | None, int | None, str]:
    """The counts and extractor in force: a named preset's, refusing flags that contradict it."""
    if preset.name == "custom":
        return num_samples, num_reference, features or "inception"
    for what, given, pinned in (
        ("num_samples", num_samples, preset.num_samples),
        ("num_reference", num_reference, preset.num_reference),
        ("features", features, preset.features),
    ):
        if given is not None and given != pinned and not (what == "features" and _same_features(given, pinned)):
            raise ValueError(
                f"protocol {preset.name!r} pins {what} to {pinned!r}, but {given!r} was given: "
                f"drop the flag, or use --protocol custom"
            )
    return preset.num_samples, preset.num_reference, preset.features


def _same_features(a: str, b: str) -> bool:
    from .metrics.features import canonical_spec

    return canonical_spec(a) == canonical_spec(b)


def _cached_extractor(features: str, batch_size: int, device: str | torch.device, inception_weights: Any) -> Any:
    from .metrics.features import CachedExtractor

    return CachedExtractor(
        features,
        batch_size=batch_size,
        device=device,
        inception_weights=str(inception_weights) if inception_weights else None,
    )
