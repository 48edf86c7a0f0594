"""Conformance check of a model's outputs: samples (or translations) repeat, follow labels, stand alone."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

import ganzoo

from .common import check_range, config_for, data_shape, fail, kinds
from .registration import check_registration


def check_sampling(variant: str, **config: Any) -> None:
    """``model.sample(n, seed=s)`` repeats for the same seed, differs for another, has the right
    shape and range, and does not depend on its batch-mates; ``translate`` likewise repeats."""
    from .training import perturbed_model

    check = "sampling"
    v = check_registration(variant)
    for kind in kinds(v):
        cfg = config_for(v, kind, config, check)
        torch.manual_seed(0)
        model = ganzoo.create(variant, **dataclasses.asdict(cfg))
        shape = data_shape(cfg, kind)
        if model.task.samples:
            a, b, c = model.sample(4, seed=0), model.sample(4, seed=0), model.sample(4, seed=1)
            check_range(variant, check, f"sample(4) for {kind} data", a, (4, *shape), kind)
            if not torch.equal(a, b):
                raise fail(
                    variant,
                    check,
                    "the same seed gave different samples; in eval mode the generator must "
                    "draw no randomness of its own (torch.randn or dropout in forward?)",
                )
            if torch.equal(a, c):
                raise fail(variant, check, "seeds 0 and 1 gave the same samples; the generator ignores its noise z")
            one_by_one = model.sample(4, seed=0, batch_size=1)
            if model.task.conditional:  # on moved weights: at init, conditional BN (gains 1, biases 0) ignores labels
                _check_labels_followed(variant, check, perturbed_model(variant, cfg, kind))
        else:
            a, one_by_one = _check_translations(variant, check, model, kind, shape)
        if not torch.allclose(a, one_by_one, atol=1e-5):
            raise fail(
                variant,
                check,
                "outputs change with the batch they are computed in; in eval mode no "
                "sample may depend on another (batch statistics in eval mode?)",
            )


def _check_translations(
    variant: str, check: str, model: ganzoo.GanModel, kind: str, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translations in every direction the model has fit the data and repeat; a missing direction is refused
    clearly. Returns A-to-B translations of one batch, computed together and one by one."""
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1  # (4, C, H, W)
    a = model.translate(x, "a2b")
    check_range(variant, check, f"translate(x, 'a2b') for {kind} data", a, (4, *shape), kind)
    if "b2a" in model.task.directions(model.nets):
        check_range(
            variant, check, f"translate(x, 'b2a') for {kind} data", model.translate(x, "b2a"), (4, *shape), kind
        )
    else:
        _check_one_way(variant, check, model, x)
    if not torch.equal(a, model.translate(x, "a2b")):
        raise fail(
            variant,
            check,
            "translating the same images twice gave different results; in eval "
            "mode the generators must draw no randomness of their own",
        )
    return a, model.translate(x, "a2b", batch_size=1)


def _check_one_way(variant: str, check: str, model: ganzoo.GanModel, x: torch.Tensor) -> None:
    """A model that translates one way refuses to translate B to A with a clear error, not a KeyError."""
    try:
        model.translate(x, "b2a")
    except ValueError:
        return
    except Exception as exc:
        raise fail(
            variant,
            check,
            f"translate(x, 'b2a') on a one-way model (no B-to-A generator) raised "
            f"{type(exc).__name__}: {exc}; expected a ValueError saying it translates one "
            f"way",
        ) from exc
    raise fail(variant, check, "translate(x, 'b2a') worked on a one-way model (no B-to-A generator)")


def _check_labels_followed(variant: str, check: str, model: ganzoo.GanModel) -> None:
    """A conditional model's samples depend on the labels asked for, repeat per label, and refuse bad ones."""
    zeros, ones = model.sample(4, seed=0, labels=0), model.sample(4, seed=0, labels=1)
    if torch.equal(zeros, ones):
        raise fail(variant, check, "labels 0 and 1 gave the same samples from the same noise; G ignores its labels y")
    if not torch.equal(zeros, model.sample(4, seed=0, labels=[0, 0, 0, 0])):
        raise fail(variant, check, "labels=0 and labels=[0, 0, 0, 0] gave different samples")
    mixed = model.sample(4, seed=0, labels=[0, 1, 0, 1])
    if not (torch.allclose(mixed[0], zeros[0], atol=1e-5) and torch.allclose(mixed[1], ones[1], atol=1e-5)):
        raise fail(variant, check, "a sample depends on the labels of its batch-mates")
    past_last = model.task.num_classes  # one past the last class
    try:
        model.sample(2, seed=0, labels=past_last)
    except ValueError:
        pass
    else:
        raise fail(variant, check, f"labels={past_last} (one past the last class) was accepted")


def check_export(variant: str, **config: Any) -> str:
    """Every generator (each direction) exports to ONNX and onnxruntime matches torch; what it did, in a line.

    A third-party variant gets `ganzoo export` free when its generator follows the sampling contract; this
    says whether it does. Without the export extra (onnx, onnxruntime) the check is skipped, and says so.
    """
    from ganzoo.export import check_export as exported_matches
    from ganzoo.export_graphs import ExportError

    check = "export"
    v = check_registration(variant)
    for kind in kinds(v):
        cfg = config_for(v, kind, config, check)
        torch.manual_seed(0)
        model = ganzoo.create(variant, **dataclasses.asdict(cfg))
        try:
            exported_matches(model)
        except ExportError as exc:
            if "needs the" in str(exc):  # the optional packages are missing, not the variant at fault
                return f"export: skipped ({exc})"
            raise fail(variant, check, str(exc)) from exc
        except AssertionError as exc:
            raise fail(variant, check, str(exc)) from exc
    return "export"
