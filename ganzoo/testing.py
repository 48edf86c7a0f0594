"""A conformance kit for variant plugins: run it in your plugin's own pytest suite.

Each ``check_*`` function tests one promise a variant makes to the rest of ganzoo and raises
``AssertionError`` with a message that names the variant, the check and what to fix. They use
the same public paths a user does (``ganzoo.create``, ``ganzoo.train``, ``save_pretrained``,
``ganzoo.load``), so a variant that passes them works with the CLI, the Hub and the benchmarks.

    from ganzoo import testing

    def test_conformance(tmp_path):
        testing.run_all("lsgan", tmp_path, image_size=16, channels=1, ngf=8, ndf=8)

Keyword arguments other than the kit's own (``sizes``, ``data``, ``steps``, ``batch_size``) are
config overrides; pass a tiny config (narrow networks, small images) so every check takes a
fraction of a second. A variant that takes several data kinds (``"image,points"``) is checked on
each of them: points use ``dim=2`` (the ``ring8`` mixture), images the config's size. A conditional
config (``num_classes`` > 0; 10 for the bundled mnist-5k) is checked with labels: ``G(z, y)`` and ``D(x, y)`` take them, samples
follow the labels asked for and repeat per label, and it trains and resumes on labelled mnist-5k.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import ganzoo
from ganzoo.config import is_conditional, make_config
from ganzoo.engine import NonFiniteLossError, Step
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint
from ganzoo.plugins import get_state
from ganzoo.registry import Variant, resolve_ref

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_SIZES",
    "check_registration",
    "check_import_is_light",
    "check_networks",
    "check_sampling",
    "check_training",
    "check_save_load",
    "check_resume",
    "run_all",
]

KINDS = ("image", "points", "unpaired", "paired")
TRANSLATION_KINDS = ("unpaired", "paired")  # two image domains: A and B images unrelated, or in aligned pairs
TASKS = ("sample", "translate")
DEFAULT_DATA = {"image": "mnist-5k", "points": "ring8", "unpaired": "mnist-5k-inverted",  # bundled, no download
                "paired": "mnist-5k-thick-paired"}
DEFAULT_SIZES = ((32, 1), (32, 3))  # (image_size, channels) pairs that check_networks builds
POINTS_DIM = 2  # the 2D mixtures' points
# engine options of every kit run: CPU (where resume is bit-exact), a metrics line per step, one checkpoint at the end
ENGINE_QUIET = dict(device="cpu", progress="off", sample_every=0, checkpoint_every=0, log_every=1, seed=0)


def _fail(variant: str, check: str, message: str) -> AssertionError:
    return AssertionError(f"variant {variant!r} fails {check}: {message}")


# ---- registration -------------------------------------------------------------------------------


def check_registration(variant: str) -> Variant:
    """The variant is registered by a plugin without errors, its fields are well formed, its lazy
    references resolve, and its config dataclass builds with defaults and survives config.json."""
    check = "registration"
    state = get_state()
    if variant not in ganzoo.list_variants():
        errors = [f"{i.name}: {e}" for i in state.infos.values() for e in i.errors]
        hint = f"; plugin errors: {'; '.join(errors)}" if errors else " (is the plugin installed? `ganzoo plugins`)"
        raise _fail(variant, check, f"no plugin registered it{hint}")
    v = ganzoo.info(variant)
    info = state.infos.get(v.plugin)
    if not v.plugin or info is None:
        raise _fail(variant, check, "the registry did not record which plugin registered it")
    if info.errors:
        raise _fail(variant, check, f"plugin {v.plugin!r} reported errors: {'; '.join(info.errors)}")
    for name in ("summary", "paper"):
        value = getattr(v, name)
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise _fail(variant, check, f"Variant.{name} must be one non-empty line, got {value!r}")
    kinds = v.data_kind.split(",")
    if not kinds or any(k not in KINDS for k in kinds):
        raise _fail(variant, check, f"data_kind {v.data_kind!r} must be one or more of {', '.join(KINDS)}, comma-separated")
    if v.task not in TASKS:
        raise _fail(variant, check, f"task must be one of {', '.join(TASKS)}, got {v.task!r}")
    if (v.task == "translate") != all(k in TRANSLATION_KINDS for k in kinds):
        raise _fail(variant, check, f"task {v.task!r} does not fit data_kind {v.data_kind!r}: translate variants "
                                    f"train on unpaired or paired data, sample variants on image or points data")

    cls = _resolve(v, "config", check)
    build = _resolve(v, "build", check)
    step = _resolve(v, "step", check)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise _fail(variant, check, f"config must be a dataclass class, got {cls!r}")
    no_default = [f.name for f in dataclasses.fields(cls)
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if no_default:
        raise _fail(variant, check, f"config field(s) {', '.join(no_default)} have no default; every field needs "
                                    f"one (the paper's value) so that `ganzoo.create({variant!r})` works")
    try:
        config = cls()
    except Exception as exc:
        raise _fail(variant, check, f"{cls.__name__}() with its defaults raised {type(exc).__name__}: {exc}") from exc
    _check_json_round_trip(variant, check, cls, config)
    if not callable(build):
        raise _fail(variant, check, f"build must be callable as build(config) -> dict of networks, got {build!r}")
    if not (isinstance(step, type) and issubclass(step, Step)):
        raise _fail(variant, check, f"step must be a subclass of ganzoo.engine.Step, got {step!r}")
    missing = [m for m in ("optimizers", "__call__") if getattr(step, m) is getattr(Step, m)]
    if missing:
        raise _fail(variant, check, f"{step.__name__} must implement {' and '.join(missing)}")
    return v


def _resolve(v: Variant, field: str, check: str) -> Any:
    ref = getattr(v, field)
    try:
        return resolve_ref(ref)
    except Exception as exc:
        raise _fail(v.name, check, f"Variant.{field} = {ref!r} does not resolve: {type(exc).__name__}: {exc}") from exc


def _check_json_round_trip(variant: str, check: str, cls: type, config: Any) -> None:
    """config.json holds the config; rebuilding it from there must give an equal config."""
    try:
        text = json.dumps(dataclasses.asdict(config))
    except TypeError as exc:
        raise _fail(variant, check, f"the config cannot be written to config.json: {exc}") from exc
    back = make_config(cls, json.loads(text), variant=variant)
    if back != config:
        raise _fail(variant, check, f"the config changes through config.json: {config!r} came back as {back!r}; "
                                    f"use JSON types (a tuple field needs a tuple default)")


def check_import_is_light(variant: str) -> None:
    """In a fresh interpreter, listing the plugin's variants and reading its config class (what
    `ganzoo list` and `ganzoo info` do) must not import torch. Needs an installed plugin."""
    check = "import-is-light"
    v = ganzoo.info(variant)
    info = get_state().infos.get(v.plugin)
    if info is None or info.distribution is None:
        raise _fail(variant, check, f"plugin {v.plugin!r} was registered in-process, not installed; "
                                    f"install it (`pip install -e .`) to check its import in a fresh interpreter")
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
        raise _fail(variant, check, f"a fresh interpreter could not list it:\n{done.stderr.strip()}")
    listed, after_list, after_config = json.loads(done.stdout.strip().splitlines()[-1])
    if not listed:
        raise _fail(variant, check, f"a fresh interpreter with GANZOO_LOAD_PLUGINS={v.plugin} does not list it "
                                    f"(is the plugin installed, or only on this process's sys.path?)")
    if after_list:
        raise _fail(variant, check, "importing the plugin package imports torch; keep __init__.py to hookimpls "
                                    "and lazy 'module:attr' strings so `ganzoo list` stays instant")
    if after_config:
        raise _fail(variant, check, "importing the config class imports torch; `ganzoo info` reads config "
                                    "defaults, so keep the config module free of torch")


# ---- networks and sampling ----------------------------------------------------------------------


def _kinds(v: Variant) -> list[str]:
    return v.data_kind.split(",")


def _config(v: Variant, kind: str, overrides: dict[str, Any], check: str) -> Any:
    """The variant's config for ``kind``: points data sets ``dim`` (when the config has it)."""
    cls = v.load_config_class()
    fields = {f.name for f in dataclasses.fields(cls)}
    values = dict(overrides)
    if kind == "points" and "dim" in fields:
        values.setdefault("dim", POINTS_DIM)
    try:
        return make_config(cls, values, variant=v.name)
    except Exception as exc:
        raise _fail(v.name, check, f"config {values} for {kind} data is refused: {type(exc).__name__}: {exc}") from exc


def _data_shape(config: Any, kind: str) -> tuple[int, ...]:
    """The shape of one real item as the engine's data specs give it."""
    if kind == "points":
        return (getattr(config, "dim", 0) or POINTS_DIM,)
    size = getattr(config, "image_size", 32)
    return (getattr(config, "channels", 1), size, size)


def _labels(cfg: Any, n: int) -> tuple[torch.Tensor, ...]:
    """``(y,)`` with n labels 0, 1, 2, ... for a conditional config; ``()`` for an unconditional one."""
    if not is_conditional(cfg):
        return ()
    return (torch.arange(n) % cfg.num_classes,)


def _generators(v: Variant, nets: Iterable[str] = ("G_AB", "G_BA")) -> list[str]:
    """The generators of a variant with networks ``nets``: G, or G_AB and (when it translates back too) G_BA."""
    return ["G"] if v.task == "sample" else ["G_AB"] + [g for g in ("G_BA",) if g in nets]


def _d_inputs(kind: str, x: torch.Tensor, *labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What a discriminator takes: D(x) (with labels, D(x, y)); on paired data it scores pairs, D(a, b)."""
    return (x, x) if kind == "paired" else (x, *labels)


def _build(v: Variant, config: Any, check: str) -> dict[str, nn.Module]:
    try:
        nets = v.load_build()(config)
    except Exception as exc:
        raise _fail(v.name, check, f"build({config!r}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(nets, dict) or not nets:
        raise _fail(v.name, check, f"build must return a non-empty dict of networks, got {type(nets).__name__}")
    for name, net in nets.items():
        if not isinstance(name, str) or not isinstance(net, nn.Module):
            raise _fail(v.name, check, f"build must map names to nn.Module, got {name!r}: {type(net).__name__}")
    missing = [g for g in _generators(v, ()) if g not in nets]
    if missing:
        raise _fail(v.name, check, f"a {v.task} variant needs generator(s) {', '.join(missing)}; build gave "
                                   f"{', '.join(nets)}")
    return nets


def _check_range(variant: str, check: str, what: str, x: torch.Tensor, shape: tuple[int, ...], kind: str) -> None:
    if tuple(x.shape) != shape:
        raise _fail(variant, check, f"{what} has shape {tuple(x.shape)}, expected {shape}")
    if x.dtype != torch.float32:
        raise _fail(variant, check, f"{what} has dtype {x.dtype}, expected torch.float32")
    if not bool(torch.isfinite(x).all()):
        raise _fail(variant, check, f"{what} holds NaN or Inf")
    if kind != "points" and (float(x.min()) < -1 - 1e-6 or float(x.max()) > 1 + 1e-6):
        raise _fail(variant, check, f"{what} spans [{float(x.min()):.3g}, {float(x.max()):.3g}], outside the image "
                                    f"range [-1, 1]; end the generator with tanh")


def check_networks(variant: str, *, sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES, **config: Any) -> None:
    """Networks build for every (image_size, channels) in ``sizes`` (and dim=2 for points), the same
    torch seed gives the same weights, generators map noise (or images) to data of the right shape
    in [-1, 1], discriminators ("D", "D_*") score a batch, and the optimizers cover every weight."""
    check = "networks"
    v = check_registration(variant)
    fields = {f.name for f in dataclasses.fields(v.load_config_class())}
    for kind in _kinds(v):
        variants_of_config = [dict(config)]
        if kind != "points":
            variants_of_config = [{**config, **({"image_size": s} if "image_size" in fields else {}),
                                   **({"channels": c} if "channels" in fields else {})} for s, c in sizes]
        seen: list[Any] = []
        for overrides in variants_of_config:
            cfg = _config(v, kind, overrides, check)
            if cfg in seen:
                continue
            seen.append(cfg)
            _check_one_build(v, cfg, kind, check)


@torch.no_grad()
def _check_one_build(v: Variant, cfg: Any, kind: str, check: str) -> None:
    torch.manual_seed(0)
    nets = _build(v, cfg, check)
    torch.manual_seed(0)
    again = _build(v, cfg, check)
    for name, net in nets.items():
        other = again[name].state_dict()
        if any(not torch.equal(t, other[k]) for k, t in net.state_dict().items()):
            raise _fail(v.name, check, f"two builds after torch.manual_seed(0) give different {name} weights; "
                                       f"initialise with torch's global generator so seeded runs repeat")
    shape = _data_shape(cfg, kind)
    where = f"{kind} data {shape}"
    for net in nets.values():
        net.eval()
    batch = torch.rand(2, *shape) * 2 - 1  # (2, *data_shape) in [-1, 1]
    if v.task == "sample":
        G = nets["G"]
        latent = getattr(G, "latent_shape", None)
        if not (isinstance(latent, tuple) and latent and all(isinstance(d, int) and d > 0 for d in latent)):
            raise _fail(v.name, check, f"G.latent_shape must be a tuple of positive ints (e.g. (nz, 1, 1)), got {latent!r}")
        y = _labels(cfg, 2)
        if y and getattr(G, "num_classes", 0) != cfg.num_classes:
            raise _fail(v.name, check, f"a conditional G needs num_classes = config.num_classes ({cfg.num_classes}), "
                                       f"got {getattr(G, 'num_classes', None)!r}")
        _check_range(v.name, check, f"G(z{', y' if y else ''}) for {where}", G(torch.randn(2, *latent), *y), (2, *shape), kind)
    else:
        for g in _generators(v, nets):
            _check_range(v.name, check, f"{g}(x) for {where}", nets[g](batch), (2, *shape), kind)
    for name, net in nets.items():
        if name == "D" or name.startswith("D_"):
            out = net(*_d_inputs(kind, batch, *_labels(cfg, 2)))
            if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != 2:
                raise _fail(v.name, check, f"{name} must score a batch (B, ...) -> (B, ...); for {where} it gave "
                                           f"{getattr(out, 'shape', type(out).__name__)}")
            if not bool(torch.isfinite(out).all()):
                raise _fail(v.name, check, f"{name} gives NaN or Inf for {where}")
    step = v.load_step()(cfg)
    if step.ema_net is not None and step.ema_net not in nets:
        raise _fail(v.name, check, f"{type(step).__name__}.ema_net = {step.ema_net!r} is not one of the networks "
                                   f"({', '.join(nets)}); name one or set it to None")
    optimizers = step.optimizers(nets)
    if not isinstance(optimizers, dict) or not all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values()):
        raise _fail(v.name, check, "optimizers(nets) must return a dict of torch.optim.Optimizer by name")
    covered = {id(p) for o in optimizers.values() for g in o.param_groups for p in g["params"]}
    for name, net in nets.items():
        left = [k for k, p in net.named_parameters() if p.requires_grad and id(p) not in covered]
        if left:
            raise _fail(v.name, check, f"no optimizer updates {name}.{left[0]}" + (f" and {len(left) - 1} more" if len(left) > 1 else "")
                                       + "; give every trainable network an optimizer or freeze it (requires_grad_(False))")


def check_sampling(variant: str, **config: Any) -> None:
    """``model.sample(n, seed=s)`` repeats for the same seed, differs for another, has the right
    shape and range, and does not depend on its batch-mates; ``translate`` likewise repeats."""
    check = "sampling"
    v = check_registration(variant)
    for kind in _kinds(v):
        cfg = _config(v, kind, config, check)
        torch.manual_seed(0)
        model = ganzoo.create(variant, **dataclasses.asdict(cfg))
        shape = _data_shape(cfg, kind)
        if v.task == "sample":
            a, b, c = model.sample(4, seed=0), model.sample(4, seed=0), model.sample(4, seed=1)
            _check_range(variant, check, f"sample(4) for {kind} data", a, (4, *shape), kind)
            if not torch.equal(a, b):
                raise _fail(variant, check, "the same seed gave different samples; in eval mode the generator must "
                                            "draw no randomness of its own (torch.randn or dropout in forward?)")
            if torch.equal(a, c):
                raise _fail(variant, check, "seeds 0 and 1 gave the same samples; the generator ignores its noise z")
            one_by_one = model.sample(4, seed=0, batch_size=1)
            if is_conditional(cfg):  # on moved weights: at init, conditional BN (gains 1, biases 0) ignores labels
                _check_labels_followed(variant, check, _perturbed_model(variant, cfg, kind))
        else:
            x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1  # (4, C, H, W)
            a = model.translate(x, "a2b")
            _check_range(variant, check, f"translate(x, 'a2b') for {kind} data", a, (4, *shape), kind)
            if "G_BA" in model.nets:
                _check_range(variant, check, f"translate(x, 'b2a') for {kind} data", model.translate(x, "b2a"), (4, *shape), kind)
            else:
                _check_one_way(variant, check, model, x)
            if not torch.equal(a, model.translate(x, "a2b")):
                raise _fail(variant, check, "translating the same images twice gave different results; in eval "
                                            "mode the generators must draw no randomness of their own")
            one_by_one = model.translate(x, "a2b", batch_size=1)
        if not torch.allclose(a, one_by_one, atol=1e-5):
            raise _fail(variant, check, "outputs change with the batch they are computed in; in eval mode no "
                                        "sample may depend on another (batch statistics in eval mode?)")


def _check_one_way(variant: str, check: str, model: ganzoo.GanModel, x: torch.Tensor) -> None:
    """A model without G_BA refuses to translate B to A with a clear error, not a KeyError."""
    try:
        model.translate(x, "b2a")
    except ValueError:
        return
    except Exception as exc:
        raise _fail(variant, check, f"translate(x, 'b2a') on a model without G_BA raised {type(exc).__name__}: {exc}; "
                                    f"expected a ValueError saying it translates one way") from exc
    raise _fail(variant, check, "translate(x, 'b2a') worked on a model without G_BA")


def _check_labels_followed(variant: str, check: str, model: ganzoo.GanModel) -> None:
    """A conditional model's samples depend on the labels asked for, repeat per label, and refuse bad ones."""
    zeros, ones = model.sample(4, seed=0, labels=0), model.sample(4, seed=0, labels=1)
    if torch.equal(zeros, ones):
        raise _fail(variant, check, "labels 0 and 1 gave the same samples from the same noise; G ignores its labels y")
    if not torch.equal(zeros, model.sample(4, seed=0, labels=[0, 0, 0, 0])):
        raise _fail(variant, check, "labels=0 and labels=[0, 0, 0, 0] gave different samples")
    mixed = model.sample(4, seed=0, labels=[0, 1, 0, 1])
    if not (torch.allclose(mixed[0], zeros[0], atol=1e-5) and torch.allclose(mixed[1], ones[1], atol=1e-5)):
        raise _fail(variant, check, "a sample depends on the labels of its batch-mates")
    try:
        model.sample(2, seed=0, labels=model.num_classes)
    except ValueError:
        pass
    else:
        raise _fail(variant, check, f"labels={model.num_classes} (one past the last class) was accepted")


# ---- training, saving, resuming -----------------------------------------------------------------


def _data_specs(v: Variant, data: str | None) -> list[tuple[str, str]]:
    """(kind, spec) pairs to train on: ``data`` alone when given, else one bundled spec per kind."""
    if data is None:
        return [(kind, DEFAULT_DATA[kind]) for kind in _kinds(v)]
    from ganzoo.data import parse_spec

    return [(parse_spec(data)[0].kind, data)]


def _run_dir(tmp_path: str | Path, check: str, variant: str, kind: str) -> Path:
    """A new folder under ``tmp_path``, so the checks can share one tmp_path and run twice."""
    return Path(tempfile.mkdtemp(prefix=f"{check}-{variant}-{kind}-", dir=tmp_path))


def _train(v: Variant, check: str, data: str, out: Path, steps: int, batch_size: int, cfg: Any,
           resume: bool = False) -> Path:
    call = f"ganzoo.train({v.name!r}, {data!r}, steps={steps}, batch_size={batch_size})"
    try:
        if resume:
            return Path(ganzoo.train(out=out, steps=steps, resume=True, progress="off"))
        return Path(ganzoo.train(v.name, data, steps=steps, out=out, batch_size=batch_size,
                                 config=dataclasses.asdict(cfg), **ENGINE_QUIET))
    except NonFiniteLossError as exc:
        raise _fail(v.name, check, f"{call} stopped on a non-finite loss: {exc}") from exc
    except Exception as exc:
        raise _fail(v.name, check, f"{call}{' resumed' if resume else ''} raised {type(exc).__name__}: {exc}") from exc


def check_training(variant: str, tmp_path: str | Path, *, data: str | None = None, steps: int = 3,
                   batch_size: int = 8, **config: Any) -> list[Path]:
    """A few steps on the engine log finite losses at every step and change every trainable
    network. Trains on ``data``, or on mnist-5k / ring8 / mnist-5k-inverted / mnist-5k-thick-paired by data kind."""
    check = "training"
    v = check_registration(variant)
    runs = []
    for kind, spec in _data_specs(v, data):
        cfg = _config(v, kind, config, check)
        run = _train(v, check, spec, _run_dir(tmp_path, check, variant, kind), steps, batch_size, cfg)
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        if [r["step"] for r in lines] != list(range(1, steps + 1)):
            raise _fail(variant, check, f"metrics.jsonl has steps {[r['step'] for r in lines]}, expected 1..{steps}")
        for record in lines:
            losses = {k: val for k, val in record.items() if k not in ("step", "images_per_s", "time")}
            if not losses:
                raise _fail(variant, check, f"step {record['step']} logged nothing; call ctx.log(loss_d=..., loss_g=...)")
            bad = {k: val for k, val in losses.items() if not (isinstance(val, (int, float)) and math.isfinite(val))}
            if bad:
                raise _fail(variant, check, f"step {record['step']} logged non-finite {bad}")
        torch.manual_seed(ENGINE_QUIET["seed"])  # the engine seeds the initial weights the same way
        start = ganzoo.create(variant, **dataclasses.asdict(cfg))
        trained = ganzoo.load(str(run))
        for name, net in start.nets.items():
            params = dict(trained.nets[name].named_parameters())
            moved = [k for k, p in net.named_parameters() if p.requires_grad and not torch.equal(p, params[k])]
            if any(p.requires_grad for p in net.parameters()) and not moved:
                raise _fail(variant, check, f"{steps} steps on {spec} left {name} unchanged; does the step call "
                                            f"ctx.step({name!r}) after ctx.backward(...)?")
        runs.append(run)
    return runs


def _perturbed_model(variant: str, cfg: Any, kind: str) -> ganzoo.GanModel:
    """A model whose weights and running statistics are not the init: a round trip must carry them."""
    torch.manual_seed(1)
    model = ganzoo.create(variant, **dataclasses.asdict(cfg))
    shape = _data_shape(cfg, kind)
    with torch.no_grad():
        for name, net in model.nets.items():  # one train-mode pass moves batch-norm statistics
            net.train()
            latent = getattr(net, "latent_shape", None)
            if name == "G" and latent is not None:
                net(torch.randn(8, *latent), *_labels(cfg, 8))
            elif name == "D" or name.startswith("D_"):
                net(*_d_inputs(kind, torch.rand(8, *shape) * 2 - 1, *_labels(cfg, 8)))
            elif name.startswith("G_"):
                net(torch.rand(8, *shape) * 2 - 1)
        for p in model.nets.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.nets.eval()
    return model


def check_save_load(variant: str, tmp_path: str | Path, **config: Any) -> None:
    """``save_pretrained`` then ``ganzoo.load`` gives the same config, bit-identical tensors and the
    same samples (or translations), with and without the discriminators."""
    check = "save/load"
    v = check_registration(variant)
    for kind in _kinds(v):
        cfg = _config(v, kind, config, check)
        model = _perturbed_model(variant, cfg, kind)
        shape = _data_shape(cfg, kind)
        for with_d in (False, True):
            folder = _run_dir(tmp_path, "pretrained", variant, kind)
            try:
                model.save_pretrained(folder, with_discriminator=with_d, samples=not with_d)
                loaded = ganzoo.load(str(folder))
            except Exception as exc:
                raise _fail(variant, check, f"save_pretrained/load raised {type(exc).__name__}: {exc}") from exc
            missing = [f for f in ("config.json", "model.safetensors", "README.md") if not (folder / f).is_file()]
            if missing:
                raise _fail(variant, check, f"save_pretrained did not write {', '.join(missing)}")
            if loaded.config != model.config:
                raise _fail(variant, check, f"the config changed: saved {model.config!r}, loaded {loaded.config!r}")
            nets = list(model.nets) if with_d else _generators(v, model.nets)
            for name in nets:
                theirs = loaded.nets[name].state_dict()
                for key, tensor in model.nets[name].state_dict().items():
                    if not torch.equal(tensor, theirs[key]):
                        raise _fail(variant, check, f"tensor {name}.{key} differs after the round trip")
            if v.task == "sample":
                same = torch.equal(model.sample(4, seed=3), loaded.sample(4, seed=3))
            else:
                x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(3)) * 2 - 1
                directions = ["a2b"] + (["b2a"] if "G_BA" in model.nets else [])  # pix2pix goes one way
                same = all(torch.equal(model.translate(x, d), loaded.translate(x, d)) for d in directions)
            if not same:
                raise _fail(variant, check, "outputs differ after the round trip although the saved tensors match; "
                                            "the generator depends on state outside its state_dict (a buffer "
                                            "registered with persistent=False, or a plain attribute?)")


def check_resume(variant: str, tmp_path: str | Path, *, data: str | None = None, steps: int = 4,
                 batch_size: int = 8, **config: Any) -> None:
    """``steps`` straight and ``steps // 2`` + ``resume=True`` end in bit-identical checkpoints
    (networks, optimizers, step state; RNG states aside), as on the CLI after a kill -9."""
    check = "resume"
    if steps < 2:
        raise ValueError(f"check_resume needs steps >= 2 to stop half-way, got {steps}")
    v = check_registration(variant)
    for kind, spec in _data_specs(v, data):
        cfg = _config(v, kind, config, check)
        straight = _train(v, check, spec, _run_dir(tmp_path, "straight", variant, kind), steps, batch_size, cfg)
        half = _train(v, check, spec, _run_dir(tmp_path, "resumed", variant, kind), steps // 2, batch_size, cfg)
        resumed = _train(v, check, spec, half, steps, batch_size, cfg, resume=True)
        a, b = _final_tensors(straight), _final_tensors(resumed)
        if a.keys() != b.keys():
            raise _fail(variant, check, f"the resumed checkpoint holds other tensors: {sorted(a.keys() ^ b.keys())[:3]}")
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        if differ:
            raise _fail(variant, check, f"after {steps // 2} + {steps - steps // 2} resumed steps on {spec}, "
                                        f"{differ[0]}" + (f" and {len(differ) - 1} more tensors" if len(differ) > 1 else "")
                                        + f" differ from {steps} straight steps; keep state between iterations in "
                                          f"state_tensors() and draw randomness from torch's global generator "
                                          f"(ctx.noise, torch.rand), never from a generator of the step's own")


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return {k: t for k, t in tensors.items() if not k.startswith("rng.")}


# ---- everything at once -------------------------------------------------------------------------


def run_all(variant: str, tmp_path: str | Path, *, sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES,
            data: str | None = None, steps: int = 4, batch_size: int = 8, **config: Any) -> list[str]:
    """Every check in turn; returns one line per check that ran (the import check runs only for an
    installed plugin: one registered in-process has no package to import afresh)."""
    done = []
    v = check_registration(variant)
    done.append("registration")
    info = get_state().infos[v.plugin]
    if info.distribution is not None:
        check_import_is_light(variant)
        done.append("import-is-light")
    else:
        done.append("import-is-light: not applicable (plugin registered in-process)")
    check_networks(variant, sizes=sizes, **config)
    done.append("networks")
    check_sampling(variant, **config)
    done.append("sampling")
    check_training(variant, tmp_path, data=data, steps=steps, batch_size=batch_size, **config)
    done.append("training")
    check_save_load(variant, tmp_path, **config)
    done.append("save/load")
    check_resume(variant, tmp_path, data=data, steps=steps, batch_size=batch_size, **config)
    done.append("resume")
    return done
