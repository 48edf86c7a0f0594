"""The public Python API: list, inspect, create and train (mirrored by the CLI)."""

from __future__ import annotations

from typing import Any

from .plugins import get_state
from .registry import ModelCard, UnknownNameError, Variant


def list_variants(pattern: str = "*") -> list[str]:
    """Registered GAN variants whose name matches the fnmatch ``pattern``, sorted."""
    return get_state().variants.names(pattern)


def list_models(pattern: str = "*") -> list[str]:
    """Pretrained catalog entries whose name matches ``pattern``, sorted."""
    return get_state().models.names(pattern)


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered data spec names (``--data NAME`` or ``NAME:ARG``), sorted."""
    return get_state().datasets.names(pattern)


def info(name: str) -> Variant | ModelCard:
    """The registered variant or pretrained model called ``name``."""
    state = get_state()
    if name in state.variants:
        return state.variants.get(name)
    if name in state.models:
        return state.models.get(name)
    import difflib

    known = list(state.variants.names()) + list(state.models.names())
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(f"no variant or model called {name!r}{hint} (`ganzoo list` shows them all)")


def get_variant(name: str) -> Variant:
    return get_state().variants.get(name)


def create(variant: str | Variant, **config: Any):
    """An untrained model of ``variant`` holding all its networks; ``config`` overrides defaults."""
    from .config import make_config
    from .model import GanModel

    v = variant if isinstance(variant, Variant) else get_variant(variant)
    cfg = make_config(v.load_config_class(), config, variant=v.name)
    return GanModel(v, cfg, build_networks(v, cfg))


class PluginError(RuntimeError):
    """A plugin's own code failed; the message names the plugin."""


def build_networks(variant: Variant, config: Any) -> dict:
    """The variant's networks; a failure inside the plugin's builder is reported with the plugin's name."""
    try:
        return variant.load_build()(config)
    except Exception as exc:
        raise PluginError(f"variant {variant.name!r} from plugin {variant.plugin!r} failed to build its networks: "
                          f"{type(exc).__name__}: {exc} (report it to the plugin's authors; other variants are unaffected)") from exc


def train(variant_or_model=None, data: str | None = None, *, steps: int | None = None, out: str,
          resume: bool = False, config: dict[str, Any] | None = None, **options: Any):
    """Train a variant (by name, with ``config`` overrides) or a model on ``data`` into run folder ``out``.

    Keyword options are the engine's (``TrainOptions``: batch_size, precision, ema, ...); any other
    keyword is a config override, so ``train("dcgan", "mnist-5k", steps=2000, out="runs/x",
    image_size=32, channels=1)`` works. ``resume=True`` continues the run in ``out`` from its
    latest checkpoint, reading variant, config and data from its config.json. Returns ``out``.
    """
    import dataclasses
    import json
    from pathlib import Path

    from .config import ConfigError, make_config
    from .engine import Trainer, TrainOptions
    from .model import GanModel

    engine_fields = {f.name for f in dataclasses.fields(TrainOptions)}
    overrides = dict(config or {})
    overrides.update({k: v for k, v in options.items() if k not in engine_fields})
    engine = {k: v for k, v in options.items() if k in engine_fields}
    if steps is not None:
        engine["steps"] = steps

    if resume:
        record_path = Path(out) / "config.json"
        if not record_path.exists():
            raise FileNotFoundError(f"cannot resume {out}: it has no config.json (is it a ganzoo run folder?)")
        record = json.loads(record_path.read_text())
        name = variant_or_model.variant.name if isinstance(variant_or_model, GanModel) else variant_or_model
        if name is not None and name != record["variant"]:
            raise ConfigError(f"{out} is a {record['variant']!r} run, not {name!r}")
        if data is not None and data != record["data"]["spec"]:
            raise ConfigError(f"{out} was trained on {record['data']['spec']!r}, not {data!r}")
        if overrides:
            raise ConfigError(f"a resumed run keeps its config; drop {', '.join(sorted(overrides))} or start a new run")
        variant, data = get_variant(record["variant"]), record["data"]["spec"]
        cfg = make_config(variant.load_config_class(), record["config"], variant=variant.name)
        engine = {**record["engine"], **engine}
    else:
        if variant_or_model is None or data is None:
            raise ValueError("train needs a variant (or model) and a data spec, or resume=True with an existing run")
        if isinstance(variant_or_model, GanModel):
            if overrides:
                raise ConfigError("config overrides apply to a variant name, not to an existing model")
            variant, cfg = variant_or_model.variant, variant_or_model.config
        else:
            variant = get_variant(variant_or_model)
            cfg = None
    opts = TrainOptions(**engine)

    import torch

    from .data import load_dataset, parse_spec

    entry = parse_spec(data)[0]
    if cfg is None:
        cls = variant.load_config_class()
        cfg = make_config(cls, {**data_suggestions(cls, entry), **overrides}, variant=variant.name)  # validates before any data loads
    _check_data_kind(variant, entry.kind)
    dataset, entry = load_dataset(data, image_size=getattr(cfg, "image_size", 32), channels=getattr(cfg, "channels", 1))
    if entry.kind == "points" and getattr(cfg, "dim", None) == 0:
        if "dim" in overrides:
            raise ConfigError(f"{data!r} is flat data: dim must be its length, not 0")
        cfg = dataclasses.replace(cfg, dim=int(dataset.tensor.shape[1]))
    if isinstance(variant_or_model, GanModel) and not resume:
        model = variant_or_model
    else:
        torch.manual_seed(opts.seed)  # the initial weights are part of a seeded run
        model = GanModel(variant, cfg, build_networks(variant, cfg))
    data_record = {"spec": data, "kind": entry.kind}
    trainer = Trainer(model, dataset, data_record, out, opts, resume=resume)
    try:
        run = trainer.run()
    finally:
        trainer.close()
    trainer.dist.shutdown()  # a finished torchrun launch ends its process group on every rank together
    return run


def data_suggestions(config_class: type, entry: Any) -> dict[str, Any]:
    """The data spec's suggested config values that ``config_class`` has fields for (channels 1 for MNIST, say)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in (entry.suggests or {}).items() if k in fields}


def _check_data_kind(variant: Variant, kind: str) -> None:
    from .config import ConfigError

    kinds = variant.data_kind.split(",")
    if kind not in kinds:
        raise ConfigError(f"variant {variant.name!r} trains on {' or '.join(kinds)} data, "
                          f"but the data spec gives {kind} data")
