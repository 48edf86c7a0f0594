"""Conformance checks that train: a few logged steps that move every network, the save/load round trip,
and a resumed run that ends bit-identical to a straight one."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.engine import NonFiniteLossError
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint
from ganzoo.registry import Variant

from .common import DEFAULT_DATA, ENGINE_QUIET, config_for, d_inputs, data_shape, fail, is_discriminator, kinds, labels
from .registration import check_registration


def _data_specs(v: Variant, data: str | None) -> list[tuple[str, str]]:
    """(kind, spec) pairs to train on: ``data`` alone when given, else one bundled spec per kind."""
    if data is None:
        return [(kind, DEFAULT_DATA[kind]) for kind in kinds(v)]
    from ganzoo.data import parse_spec

    return [(parse_spec(data)[0].kind, data)]


def _run_dir(tmp_path: str | Path, check: str, variant: str, kind: str) -> Path:
    """A new folder under ``tmp_path``, so the checks can share one tmp_path and run twice."""
    return Path(tempfile.mkdtemp(prefix=f"{check}-{variant}-{kind}-", dir=tmp_path))


def _train(
    v: Variant, check: str, data: str, out: Path, steps: int, batch_size: int, cfg: Any, resume: bool = False
) -> Path:
    call = f"ganzoo.train({v.name!r}, {data!r}, steps={steps}, batch_size={batch_size})"
    try:
        if resume:
            return Path(ganzoo.train(out=out, steps=steps, resume=True, progress="off"))
        return Path(
            ganzoo.train(
                v.name,
                data,
                steps=steps,
                out=out,
                batch_size=batch_size,
                config=dataclasses.asdict(cfg),
                **ENGINE_QUIET,
            )
        )
    except NonFiniteLossError as exc:
        raise fail(v.name, check, f"{call} stopped on a non-finite loss: {exc}") from exc
    except Exception as exc:
        raise fail(v.name, check, f"{call}{' resumed' if resume else ''} raised {type(exc).__name__}: {exc}") from exc


def check_training(
    variant: str, tmp_path: str | Path, *, data: str | None = None, steps: int = 3, batch_size: int = 8, **config: Any
) -> list[Path]:
    """A few steps on the engine log finite losses at every step and change every trainable
    network. Trains on ``data``, or on mnist-5k / ring8 / mnist-5k-inverted / mnist-5k-thick-paired by data kind."""
    check = "training"
    v = check_registration(variant)
    runs = []
    for kind, spec in _data_specs(v, data):
        cfg = config_for(v, kind, config, check)
        run = _train(v, check, spec, _run_dir(tmp_path, check, variant, kind), steps, batch_size, cfg)
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        if [r["step"] for r in lines] != list(range(1, steps + 1)):
            raise fail(variant, check, f"metrics.jsonl has steps {[r['step'] for r in lines]}, expected 1..{steps}")
        for record in lines:
            losses = {k: val for k, val in record.items() if k not in ("step", "images_per_s", "time")}
            if not losses:
                raise fail(
                    variant, check, f"step {record['step']} logged nothing; call ctx.log(loss_d=..., loss_g=...)"
                )
            bad = {k: val for k, val in losses.items() if not (isinstance(val, (int, float)) and math.isfinite(val))}
            if bad:
                raise fail(variant, check, f"step {record['step']} logged non-finite {bad}")
        torch.manual_seed(ENGINE_QUIET["seed"])  # the engine seeds the initial weights the same way
        start = ganzoo.create(variant, **dataclasses.asdict(cfg))
        trained = ganzoo.load(str(run))
        for name, net in start.nets.items():
            params = dict(trained.nets[name].named_parameters())
            moved = [k for k, p in net.named_parameters() if p.requires_grad and not torch.equal(p, params[k])]
            if any(p.requires_grad for p in net.parameters()) and not moved:
                raise fail(
                    variant,
                    check,
                    f"{steps} steps on {spec} left {name} unchanged; does the step call "
                    f"ctx.step({name!r}) after ctx.backward(...)?",
                )
        runs.append(run)
    return runs


def perturbed_model(variant: str, cfg: Any, kind: str) -> ganzoo.GanModel:
    """A model whose weights and running statistics are not the init: a round trip must carry them."""
    torch.manual_seed(1)
    model = ganzoo.create(variant, **dataclasses.asdict(cfg))
    shape = data_shape(cfg, kind)
    task, y = model.task, labels(model.task, 8)
    generators = task.generators(model.nets)
    with torch.no_grad():
        for name, net in model.nets.items():  # one train-mode pass moves batch-norm statistics
            net.train()
            if name in generators and task.samples:
                net(torch.randn(8, *net.latent_shape), *y)
            elif is_discriminator(name):
                net(*d_inputs(kind, torch.rand(8, *shape) * 2 - 1, *y))
            elif name in generators:
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
    for kind in kinds(v):
        cfg = config_for(v, kind, config, check)
        model = perturbed_model(variant, cfg, kind)
        shape = data_shape(cfg, kind)
        for with_d in (False, True):
            folder = _run_dir(tmp_path, "pretrained", variant, kind)
            try:
                model.save_pretrained(folder, with_discriminator=with_d, samples=not with_d)
                loaded = ganzoo.load(str(folder))
            except Exception as exc:
                raise fail(variant, check, f"save_pretrained/load raised {type(exc).__name__}: {exc}") from exc
            missing = [f for f in ("config.json", "model.safetensors", "README.md") if not (folder / f).is_file()]
            if missing:
                raise fail(variant, check, f"save_pretrained did not write {', '.join(missing)}")
            if loaded.config != model.config:
                raise fail(variant, check, f"the config changed: saved {model.config!r}, loaded {loaded.config!r}")
            nets = list(model.nets) if with_d else model.task.generators(model.nets)
            for name in nets:
                theirs = loaded.nets[name].state_dict()
                for key, tensor in model.nets[name].state_dict().items():
                    if not torch.equal(tensor, theirs[key]):
                        raise fail(variant, check, f"tensor {name}.{key} differs after the round trip")
            if model.task.samples:
                same = torch.equal(model.sample(4, seed=3), loaded.sample(4, seed=3))
            else:
                x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(3)) * 2 - 1  # (4, C, H, W)
                directions = model.task.directions(model.nets)  # pix2pix goes one way
                same = all(torch.equal(model.translate(x, d), loaded.translate(x, d)) for d in directions)
            if not same:
                raise fail(
                    variant,
                    check,
                    "outputs differ after the round trip although the saved tensors match; "
                    "the generator depends on state outside its state_dict (a buffer "
                    "registered with persistent=False, or a plain attribute?)",
                )


def check_resume(
    variant: str, tmp_path: str | Path, *, data: str | None = None, steps: int = 4, batch_size: int = 8, **config: Any
) -> None:
    """``steps`` straight and ``steps // 2`` + ``resume=True`` end in bit-identical checkpoints
    (networks, optimizers, step state; RNG states aside), as on the CLI after a kill -9."""
    check = "resume"
    if steps < 2:
        raise ValueError(f"check_resume needs steps >= 2 to stop half-way, got {steps}")
    v = check_registration(variant)
    for kind, spec in _data_specs(v, data):
        cfg = config_for(v, kind, config, check)
        straight = _train(v, check, spec, _run_dir(tmp_path, "straight", variant, kind), steps, batch_size, cfg)
        half = _train(v, check, spec, _run_dir(tmp_path, "resumed", variant, kind), steps // 2, batch_size, cfg)
        resumed = _train(v, check, spec, half, steps, batch_size, cfg, resume=True)
        a, b = _final_tensors(straight), _final_tensors(resumed)
        if a.keys() != b.keys():
            raise fail(variant, check, f"the resumed checkpoint holds other tensors: {sorted(a.keys() ^ b.keys())[:3]}")
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        if differ:
            raise fail(
                variant,
                check,
                f"after {steps // 2} + {steps - steps // 2} resumed steps on {spec}, "
                f"{differ[0]}"
                + (f" and {len(differ) - 1} more tensors" if len(differ) > 1 else "")
                + f" differ from {steps} straight steps; keep state between iterations in "
                f"state_tensors() and draw randomness from torch's global generator "
                f"(ctx.noise, torch.rand), never from a generator of the step's own",
            )


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return {k: t for k, t in tensors.items() if not k.startswith("rng.")}
