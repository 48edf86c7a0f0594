"""The public Python API: list, inspect, create and train (mirrored by the CLI)."""

from __future__ import annotations

from typing import Any

from .plugins import get_state
from .registry import ModelCard, PluginError, UnknownNameError, Variant, did_you_mean


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
    hint = did_you_mean(name, state.variants.names() + state.models.names())  # "DCGAN" finds "dcgan" too
    raise UnknownNameError(f"no variant or model called {name!r}{hint} (`ganzoo list` shows them all)")


def get_variant(name: str) -> Variant:
    return get_state().variants.get(name)


def create(variant: str | Variant, **config: Any):
    """An untrained model of ``variant`` holding all its networks; ``config`` overrides defaults."""
    from .building import build_networks
    from .config import make_config
    from .model import GanModel

    v = variant if isinstance(variant, Variant) else get_variant(variant)
    cfg = make_config(v.load_config_class(), config, variant=v.name)
    check_network_memory(v, cfg)
    return GanModel(v, cfg, build_networks(v, cfg))


def train(
    variant_or_model=None,
    data: str | None = None,
    *,
    steps: int | None = None,
    out: str,
    resume: bool = False,
    config: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    **options: Any,
):
    """Train a variant (by name, with ``config`` overrides) or a model on ``data`` into run folder ``out``.

    Keyword options are the engine's (``TrainOptions``: batch_size, precision, ema, ...); any other
    keyword is a config override, so ``train("dcgan", "mnist-5k", steps=2000, out="runs/x",
    image_size=32, channels=1)`` works. ``resume=True`` continues the run in ``out`` from its
    latest checkpoint, reading variant, config and data from its config.json; overrides given with
    it (a lower ``lr``, say) apply from there on and are recorded in config.json, provided they
    leave the networks' shapes unchanged. ``data_options`` are keywords for the data spec's load
    (``{"image_column": "img"}`` for an hf: data set); the data set's ``source`` (an hf: set's
    commit, say) is recorded and passed back on resume. Names, data spec and config are checked
    before torch is imported, so a mistyped command fails at once. Returns ``out``.

    Raises ``TrainingInterrupted`` when SIGINT/SIGTERM stopped the run (after it saved a
    checkpoint) and ``NonFiniteLossError`` when the run blew up (its last good checkpoint is named).
    """
    import dataclasses
    import os

    from .config import ConfigError, make_config, migrate_renamed
    from .data import check_options, parse_spec
    from .engine.options import TrainOptions

    engine_fields = {f.name for f in dataclasses.fields(TrainOptions)}
    overrides = dict(config or {})
    overrides.update({k: v for k, v in options.items() if k not in engine_fields})
    engine = {k: v for k, v in options.items() if k in engine_fields}
    if steps is not None:
        engine["steps"] = steps
    given_model = _is_model(variant_or_model)

    changes: dict[str, Any] = {}
    if resume:
        record, where = read_run_record(out)
        name = variant_or_model.variant.name if given_model else variant_or_model
        if name is not None and name != record["variant"]:
            raise ConfigError(f"{out} is a {record['variant']!r} run, not {name!r}")
        if data is not None and data != record["data"]["spec"]:
            raise ConfigError(f"{out} was trained on {record['data']['spec']!r}, not {data!r}")
        variant, data = get_variant(record["variant"]), record["data"]["spec"]
        recorded = record["data"].get("source") or {}  # the same rows again: an hf: set's commit, say
        if not isinstance(recorded, dict):
            raise ConfigError(f"{where}: data 'source' is not a JSON object; restore the file or start a new run")
        for key, value in (data_options or {}).items():
            if value is not None and key in recorded and recorded[key] != value:
                raise ConfigError(f"{out} was trained with data {key}={recorded[key]!r}, not {value!r}")
        data_options = {**(data_options or {}), **recorded}
        cls = variant.load_config_class()
        try:
            saved = make_config(cls, record["config"], variant=variant.name)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{where} holds a config that {variant.name!r} refuses: {exc}") from None
        recorded_config = migrate_renamed(cls, dict(record["config"]), variant=variant.name)  # an older run's names
        cfg = make_config(cls, {**recorded_config, **overrides}, variant=variant.name) if overrides else saved
        old_config, new_config = dataclasses.asdict(saved), dataclasses.asdict(cfg)
        changes["config"] = {k: new_config[k] for k in new_config if new_config[k] != old_config[k]}
        unknown = sorted(set(record["engine"]) - engine_fields)
        if unknown:
            raise ConfigError(
                f"{where} has engine options this ganzoo does not know: {', '.join(unknown)}; "
                f"it was written by another version: remove them from the file or upgrade ganzoo"
            )
        changes["engine"] = {k: v for k, v in engine.items() if k in record["engine"] and record["engine"][k] != v}
        engine = {**record["engine"], **engine}
    else:
        if variant_or_model is None or data is None:
            raise ValueError("train needs a variant (or model) and a data spec, or resume=True with an existing run")
        if given_model:
            if overrides:
                raise ConfigError("config overrides apply to a variant name, not to an existing model")
            variant, cfg = variant_or_model.variant, variant_or_model.config
        else:
            variant = get_variant(variant_or_model)
            cfg = None
    entry = parse_spec(data)[0]
    check_options(entry, data_options)
    if cfg is None:
        cls = variant.load_config_class()
        hints, engine_hints = data_suggestions(cls, entry, variant, engine_fields)
        cfg = make_config(cls, {**hints, **overrides}, variant=variant.name)  # validates before any data loads
        engine = {**engine_hints, **engine}
    opts = TrainOptions(**engine)
    _check_data_kind(variant, entry.kind)
    from .engine.runfolder import RunFolder

    # someone else's files, or a folder in use: refused before data loads (by rank 0 of a torchrun launch, which
    # claims the folder; another rank's probe could find rank 0's lock already taken, or take it for an instant)
    if os.environ.get("RANK", "0") == "0":
        RunFolder(out).check_before_start(resume=resume)

    import torch  # everything above is checked without it: a bad command fails in well under a second

    from .building import build_networks
    from .data import load_dataset
    from .engine import Trainer
    from .model import GanModel
    from .tasks import fit_config_to_data, task_for

    # from shapes on the meta device, before any real allocation: the networks' size, the device, the checkpoint
    check_network_memory(variant, cfg)
    _check_device(opts)
    if resume and changes["config"]:
        _check_same_networks(variant, saved, cfg, sorted(changes["config"]))
    if resume:
        _check_checkpoint_shapes(variant, cfg, out)
    dataset, entry = load_dataset(
        data, image_size=getattr(cfg, "image_size", 32), channels=getattr(cfg, "channels", 1), options=data_options
    )
    cfg = fit_config_to_data(cfg, entry.kind, dataset, overrides, data)  # flat data: dim from the vectors
    data_record = {"spec": data, "kind": entry.kind}
    if getattr(dataset, "source", None):
        data_record["source"] = dict(dataset.source)
    classes = task_for(variant, cfg).data_classes(dataset, data, record["data"].get("classes") if resume else None)
    if classes is not None:
        data_record["classes"] = classes
    if given_model and not resume:
        model = variant_or_model
    else:
        torch.manual_seed(opts.seed)  # the initial weights are part of a seeded run
        model = GanModel(variant, cfg, build_networks(variant, cfg), classes=data_record.get("classes"))
    # leaving the block closes the run; a finished torchrun launch ends its process group on every rank together
    with Trainer(
        model, dataset, data_record, out, opts, resume=resume, changes={k: v for k, v in changes.items() if v}
    ) as trainer:
        return trainer.run()


def read_run_record(out: Any) -> tuple[dict[str, Any], Any]:
    """A run folder's config.json, checked for the keys a resume needs, and its path; errors name the file and fix."""
    from .engine.runfolder import RunFolder

    folder = RunFolder(out)
    return folder.read_record(), folder.config_path


def _is_model(obj: Any) -> bool:
    """True for a GanModel; checked without importing torch (a GanModel exists only once it is imported)."""
    import sys

    module = sys.modules.get("ganzoo.model")
    return module is not None and isinstance(obj, module.GanModel)


def _check_same_networks(variant: Variant, saved: Any, changed: Any, keys: list[str]) -> None:
    """Refuse resume overrides that change the networks' tensors: the checkpoint could not be loaded into them."""
    from .building import build_networks, meta_networks
    from .config import ConfigError

    def shapes(config: Any) -> dict[str, tuple]:
        nets = meta_networks(variant, config) or build_networks(variant, config)  # meta: no memory, shapes only
        return {f"{n}.{k}": tuple(t.shape) for n, net in nets.items() for k, t in net.state_dict().items()}

    if shapes(saved) != shapes(changed):
        raise ConfigError(
            f"a resumed run can change optimizer and loss settings, not its networks: "
            f"{', '.join(keys)} changes them; start a new run (or fine-tune a published model) instead"
        )


MAX_PARAMETER_GB = 2.0  # default limit on the networks' parameters and buffers; GANZOO_MAX_PARAMETER_GB overrides it


def check_network_memory(variant: Variant, config: Any) -> None:
    """Refuse a config whose networks would hold more than the limit in parameters, counted on the meta device.

    Training needs about four times that (weights, gradients, two Adam moments), so the refusal comes
    before any real tensor, data set or run folder exists. A builder that needs real tensors is not counted.
    """
    import os

    from .building import meta_networks
    from .config import ConfigError

    nets = meta_networks(variant, config)
    if nets is None:
        return
    total = sum(t.numel() * t.element_size() for net in nets.values() for t in net.state_dict().values())
    raw = os.environ.get("GANZOO_MAX_PARAMETER_GB", "")
    try:
        limit = float(raw) if raw else MAX_PARAMETER_GB
    except ValueError:
        raise ConfigError(f"GANZOO_MAX_PARAMETER_GB must be a number of gigabytes, got {raw!r}") from None
    if total > limit * 1e9:
        raise ConfigError(
            f"variant {variant.name!r} with this config has {total / 1e9:.2f} GB of parameters (about "
            f"{4 * total / 1e9:.1f} GB to train with Adam), above the limit of {limit:g} GB: use smaller widths or "
            f"image_size (-c ngf=..., --image-size ...), or set GANZOO_MAX_PARAMETER_GB if this machine has the memory"
        )


def _check_device(opts: Any) -> None:
    """The device the run asks for exists (one line, not a traceback), and a precision it emulates is said."""
    import os
    import sys

    from .engine.device import precision_note, resolve_device

    device = resolve_device(opts.device, int(os.environ.get("LOCAL_RANK", "0")))
    note = precision_note(opts.precision, device)
    if note and opts.progress != "off" and os.environ.get("RANK", "0") == "0":
        print(f"note: {note}", file=sys.stderr, flush=True)


def _check_checkpoint_shapes(variant: Variant, config: Any, out: Any) -> None:
    """On resume, the newest checkpoint's network shapes against the config's, compared on the meta device."""
    from .building import meta_networks
    from .config import ConfigError
    from .engine.checkpoint import checkpoint_shapes, network_weights
    from .engine.runfolder import RunFolder

    nets = meta_networks(variant, config)
    found = RunFolder(out).checkpoints()
    if nets is None or not found:
        return  # checked once built, or nothing to resume (the trainer says so)
    saved = network_weights(checkpoint_shapes(found[-1]), None, ema=False)
    for name, net in nets.items():
        for key, tensor in net.state_dict().items():
            shape = saved.get(name, {}).get(key)
            if shape is not None and shape != tuple(tensor.shape):
                raise ConfigError(
                    f"{found[-1]} holds net.{name}.{key} of shape {shape} where the config in "
                    f"{RunFolder(out).config_path} makes {tuple(tensor.shape)}: the config.json no longer describes "
                    f"the networks it saved (was it edited?); restore config.json, or start a new run"
                )


def data_suggestions(
    config_class: type, entry: Any, variant: Variant | None = None, engine_fields: Any = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config values, engine options) suggested for training on data spec ``entry``: the spec's own
    (channels 1 for MNIST, say; kept where ``config_class`` has the field), then the variant's for that
    data kind (gp_lambda 0.1 for WGAN-GP on points), then its for that spec by name; later ones win."""
    import dataclasses

    fields, known = {f.name for f in dataclasses.fields(config_class)}, set(engine_fields)
    merged = {k: v for k, v in (entry.suggests or {}).items() if k in fields or k in known}
    own = (variant.suggests or {}) if variant is not None else {}
    for key in (entry.kind, entry.name):
        wanted = own.get(key) or {}
        stray = sorted(set(wanted) - fields - known)
        if stray:
            raise PluginError(
                f"variant {variant.name!r} from plugin {variant.plugin!r} suggests {', '.join(stray)} "
                f"for {key!r} data, which is neither its config nor an engine option; "
                f"report it to the plugin's authors"
            )
        merged.update(wanted)
    config = {k: v for k, v in merged.items() if k in fields}
    return config, {k: v for k, v in merged.items() if k not in fields}


def _check_data_kind(variant: Variant, kind: str) -> None:
    from .config import ConfigError

    kinds = variant.data_kind.split(",")
    if kind not in kinds:
        raise ConfigError(
            f"variant {variant.name!r} trains on {' or '.join(kinds)} data, but the data spec gives {kind} data"
        )
