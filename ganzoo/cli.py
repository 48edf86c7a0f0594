"""The `ganzoo` command line; each subcommand mirrors a function of the Python API.

Listing and inspecting never import torch; commands that train or sample import it when run.
"""

from __future__ import annotations

import json
import os
import sys

import click

from . import __version__
from .plugins import get_state
from .registry import ModelCard, UnknownNameError, Variant


class GanzooGroup(click.Group):
    """Adds the subcommands that plugins register, and turns user errors into one clean line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UnknownNameError as exc:
            raise click.ClickException(str(exc)) from None
        except (ValueError, RuntimeError) as exc:  # bad input or a broken plugin: one line, no traceback
            if any(cls.__name__ in USER_ERRORS for cls in type(exc).__mro__):
                raise click.ClickException(str(exc)) from None
            raise


# Errors that report bad input (a file, a name, a config) or a broken plugin rather than a bug in ganzoo;
# matched by name, so that handling them imports nothing (ganzoo's own error types live beside torch code).
USER_ERRORS = ("ConfigError", "WeightsError", "ModelNameError", "PluginError", "ImageReadError", "DuplicateNameError",
               "HubDataError")


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, "--version", prog_name="ganzoo")
def cli() -> None:
    """ganzoo: a plugin-based GAN model zoo.

    \b
    ganzoo list                     variants and pretrained models
    ganzoo info dcgan               what one of them is
    ganzoo train dcgan --data mnist-5k --steps 2000 --out runs/dcgan
    """


@cli.command("list")
@click.argument("pattern", default="*")
@click.option("--datasets", is_flag=True, help="List the data specs for --data instead.")
@click.option("--metrics", is_flag=True, help="List the metrics for `ganzoo eval` instead.")
@click.option("--importers", is_flag=True, help="List the checkpoint formats `ganzoo import` reads instead.")
def list_cmd(pattern: str, datasets: bool, metrics: bool, importers: bool) -> None:
    """List variants and pretrained models whose name matches PATTERN (wildcards: * ? [])."""
    state = get_state()
    if importers:
        _table(["importer", "variant", "upstream", "plugin", "summary"],
               [(i.name, i.variant, i.upstream, i.plugin, i.summary) for i in state.importers if _match(i.name, pattern)])
        return
    if metrics:
        _table(["metric", "data", "plugin", "summary"],
               [(m.name, m.data_kind, m.plugin, m.summary) for m in state.metrics if _match(m.name, pattern)])
        return
    if datasets:
        rows = [(d.name + (":ARG" if d.needs_arg else ""), d.kind, d.plugin, d.summary)
                for d in state.datasets if _match(d.name, pattern)]
        _table(["data spec", "kind", "plugin", "summary"], rows)
        return
    variants = [(v.name, v.plugin, v.summary) for v in state.variants if _match(v.name, pattern)]
    models = [(m.name, m.variant, m.availability, m.plugin) for m in state.models if _match(m.name, pattern)]
    if not variants and not models:
        click.echo(f"nothing matches {pattern!r}", err=True)
        return
    if variants:
        _table(["variant", "plugin", "summary"], variants)
    if models:
        click.echo()
        _table(["model", "variant", "weights", "plugin"], models)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
def info(name: str, as_json: bool) -> None:
    """Show what a variant or pretrained model is: paper, config, plugin, where weights live."""
    from .api import info as api_info

    entry = api_info(name)
    record = _describe(entry)
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k} = {v!r}")
        else:
            click.echo(f"{key.ljust(width)}  {value}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List loaded plugins: name, distribution, version, hooks, what they registered, errors."""
    infos = list(get_state().infos.values())
    if as_json:
        click.echo(json.dumps([vars(i) for i in infos], indent=2))
        return
    for i in infos:
        dist = f"{i.distribution or '-'} {i.version or ''}".strip()
        click.echo(f"{i.name}  ({dist})")
        if i.hooks:
            click.echo(f"  hooks:      {', '.join(i.hooks)}")
        if i.registered:
            click.echo(f"  registered: {', '.join(i.registered)}")
        for err in i.errors:
            click.echo(f"  ERROR:      {err}")


def _parse_sets(pairs: tuple[str, ...]) -> dict:
    """``-c key=value`` pairs; values are read as JSON when they parse (numbers, lists), else strings."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="-c/--config")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


@cli.command()
@click.argument("variant", required=False)
@click.option("--data", help="Data spec: mnist-5k, ring8, grid25, cifar10:ROOT, hf:ORG/NAME, a folder, ... (`ganzoo list --datasets`).")
@click.option("--steps", type=int, help="Total iterations (generator updates).  [default: 1000]")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder to write (or to resume).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), help="Continue the run in this folder from its latest checkpoint.")
@click.option("--image-size", type=int, help="Config shortcut: image side in pixels.")
@click.option("--channels", type=int, help="Config shortcut: 1 (grayscale) or 3 (RGB).")
@click.option("-c", "--config", "config_pairs", multiple=True, metavar="KEY=VALUE", help="Variant config override (repeatable), e.g. -c lr=1e-4.")
@click.option("--batch-size", type=int, help="Real images per iteration and process.  [default: 64]")
@click.option("--budget", type=float, help="Wall-clock seconds for this invocation (0 = no limit).")
@click.option("--device", help="cpu, cuda, cuda:N or auto.  [default: auto]")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), help="Numeric precision.  [default: fp32]")
@click.option("--channels-last/--no-channels-last", default=None, help="NHWC memory format for conv nets.")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the networks.")
@click.option("--ema", type=float, help="EMA decay of the generator (0 = off), e.g. 0.999.")
@click.option("--seed", type=int, help="Seed of weights, noise and data order.  [default: 0]")
@click.option("--workers", type=int, help="Data-loader processes (for data not held in memory).")
@click.option("--log-every", type=int, help="Iterations between metrics.jsonl lines.  [default: 50]")
@click.option("--sample-every", type=int, help="Iterations between sample grids (0 = at the end).  [default: 500]")
@click.option("--checkpoint-every", type=int, help="Iterations between checkpoints (0 = at the end).  [default: 500]")
@click.option("--keep-checkpoints", type=int, help="How many of the latest checkpoints to keep.  [default: 3]")
@click.option("--progress", type=click.Choice(["auto", "on", "off"]), help="Progress bar.  [default: auto]")
@click.option("--image-column", help="hf: data: the column of images.  [default: its one Image column]")
@click.option("--label-column", help="hf: data: the column of class labels.  [default: its first ClassLabel column]")
def train(variant, data, steps, out, resume_dir, image_size, channels, config_pairs, image_column, label_column,
          **engine) -> None:
    """Train VARIANT on --data into the run folder --out (or continue one with --resume DIR).

    \b
    ganzoo train dcgan --data mnist-5k --image-size 32 --channels 1 --steps 2000 --out runs/dcgan
    ganzoo train --resume runs/dcgan --steps 4000
    """
    from .api import train as api_train
    from .config import ConfigError
    from .engine import NonFiniteLossError, TrainingInterrupted

    engine = {("compile" if k == "compile_" else k): v for k, v in engine.items() if v is not None}
    overrides = _parse_sets(config_pairs)
    if image_size is not None:
        overrides["image_size"] = image_size
    if channels is not None:
        overrides["channels"] = channels
    if resume_dir:
        if out and out != resume_dir:
            raise click.UsageError("--resume DIR continues DIR: leave out --out or give the same folder")
        out = resume_dir
    elif not (variant and data and out):
        raise click.UsageError("give VARIANT, --data and --out (or --resume DIR)")
    try:
        run = api_train(variant, data, steps=steps, out=out, resume=bool(resume_dir), config=overrides,
                        data_options={"image_column": image_column, "label_column": label_column}, **engine)
    except TrainingInterrupted as exc:
        click.echo(f"\n{exc}", err=True)
        sys.exit(130)
    except (ConfigError, FileExistsError, FileNotFoundError, NonFiniteLossError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"done: {run}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _end_distributed_process()


def _end_distributed_process() -> None:
    """Exit 0 now, skipping the interpreter's teardown: a rank of a finished torchrun run.

    The run is complete: every file is written and the engine has ended the process group after
    all ranks finished. At interpreter exit, gloo's background threads can still abort torch's C++
    teardown ("terminate called without an active exception"), and torchrun would then report a
    failure for a complete run; os._exit skips that teardown (and nothing else is left to do).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@cli.command()
@click.argument("name")
@click.option("-n", "--num", "n", type=click.IntRange(min=1), help="How many samples (1 or more); with --class-grid, per class.  [default: 64, or 8 per class]")
@click.option("-o", "--out", required=True, type=click.Path(),
              help="An image file, one grid (.png, .jpg, .webp, .bmp, .tif), or a folder: one PNG per sample.")
@click.option("--seed", type=int, default=0, help="Noise seed: the same seed gives the same images.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option("--revision", help="Hub revision (branch, tag or commit) to load.")
@click.option("--label", help="Conditional models: the class to draw, by index or name (default: classes drawn uniformly).")
@click.option("--class-grid", is_flag=True, help="Conditional models: one row per class, -n samples each.")
@click.option("--truncation", type=float, help="In (0, 1]: fewer odd samples, less variety (W space for stylegan2, "
                                               "a truncated normal z for the others).")
@click.option("--interpolate", type=click.IntRange(min=2), metavar="K",
              help="Latent walks: -n rows of K steps (lerp in W, slerp in z) as a grid at -o and an animated GIF beside it.")
@click.option("--mix", is_flag=True, help="Style-based models: a style-mixing table of -n sources by -n destinations.")
def sample(name: str, n: int | None, out: str, seed: int, device: str, revision: str | None, label: str | None,
           class_grid: bool, truncation: float | None, interpolate: int | None, mix: bool) -> None:
    """Sample N images from NAME (catalog name, hf-hub:org/repo, ./model-folder or run folder).

    A bare catalog name always loads the catalog model; write a folder of the same name as ./NAME.
    """
    import warnings
    from pathlib import Path

    from .engine.outputs import save_grid
    from .hub import load

    if label is not None and class_grid:
        raise click.UsageError("--label draws one class and --class-grid all of them: give one of the two")
    picked = [flag for flag, on in (("--class-grid", class_grid), ("--interpolate", interpolate), ("--mix", mix),
                                    ("--label", label is not None)) if on]
    if len(picked) > 1:
        raise click.UsageError(f"{' and '.join(picked)} make different pictures: give one of them")
    n = n or (8 if class_grid or interpolate else 4 if mix else 64)
    target = Path(out)
    as_grid = _grid_target(target, n)  # checked before the model loads
    gif = target.with_suffix(".gif")
    if (interpolate or mix) and not as_grid:
        raise click.UsageError(f"--{'interpolate' if interpolate else 'mix'} writes one picture: give -o an image "
                               f"file such as walk.png, not the folder {target}")
    if interpolate and gif.exists() and not _is_image(gif):
        raise click.ClickException(f"{gif} exists and is not an image; ganzoo will not overwrite it: choose another -o")
    from .engine.trainer import resolve_device

    try:
        resolve_device(device)
    except (RuntimeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            model = load(name, revision=revision, device=device)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    if model.variant.task != "sample":
        raise click.ClickException(f"{name} is a {model.variant.name} translation model: use model.translate(x) in Python")
    try:
        if class_grid:
            images, per_row = model.class_grid(n, seed=seed).cpu(), n
        elif interpolate:
            images, per_row = model.walk(n, interpolate, seed=seed, truncation=truncation).cpu(), interpolate
        elif mix:
            images, per_row = model.style_mix(n, n, seed=seed, truncation=truncation).cpu(), n + 1
        else:
            wanted = int(label) if label is not None and label.lstrip("-").isdigit() else label
            images, per_row = model.sample(n, seed=seed, labels=wanted, truncation=truncation).cpu(), None
    except ValueError as exc:  # labels for an unconditional model, a class it does not have, a bad truncation
        raise click.ClickException(str(exc)) from None
    if interpolate:
        from .latent import save_walk_gif

        if images.dim() != 4:
            raise click.ClickException(f"--interpolate draws images, and {name} generates points")

        save_grid(images, target, nrow=per_row)
        save_walk_gif(images, n, interpolate, gif)
        click.echo(f"wrote {n} walks of {interpolate} steps to {target} and {gif}")
        return
    if as_grid:
        save_grid(images, target, nrow=per_row)  # the suffix picks the format
    else:
        target.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            save_grid(image.unsqueeze(0), target / f"{i:05d}.png")
    click.echo(f"wrote {len(images)} samples to {target}")


GRID_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")  # formats PIL writes


def _grid_target(target, n: int) -> bool:
    """True for one grid image at ``target``, False for a folder of PNGs (a folder, or a path without a
    suffix); refuses an unknown suffix and any existing file that is not an image, which ganzoo did not write."""
    if target.is_dir():
        for path in (target / f"{i:05d}.png" for i in range(n)):
            if path.exists() and not _is_image(path):
                raise click.ClickException(f"{path} exists and is not an image; ganzoo will not overwrite it: choose another -o")
        return False
    suffix = target.suffix.lower()
    if target.exists() and not (suffix in GRID_SUFFIXES and _is_image(target)):
        raise click.ClickException(f"{target} exists and is not an image{' folder' if not suffix else ''}; "
                                   f"ganzoo will not overwrite it: choose another -o")
    if not suffix:
        return False
    if suffix not in GRID_SUFFIXES:
        raise click.BadParameter(f"{target.name!r} has suffix {suffix!r}, not an image format: use "
                                 f"{', '.join(GRID_SUFFIXES)} for one grid, or a path without a suffix for a folder of PNGs",
                                 param_hint="-o/--out")
    from PIL import features

    if suffix == ".webp" and not features.check("webp"):
        raise click.BadParameter("this Pillow cannot write WEBP: use .png or .jpg", param_hint="-o/--out")
    return True


def _is_image(path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:
        return False


@cli.command("eval")
@click.argument("name")
@click.option("--data", help="Reference data spec (e.g. mnist-5k, ring8, cifar10:ROOT, a folder); optional with --ref-stats for FID.")
@click.option("--metrics", "metric_names", default=None, help="Comma-separated metrics (`ganzoo list --metrics`).  [default: by data kind]")
@click.option("--protocol", default="custom", show_default=True,
              help="fid50k-full (50k vs the whole set), fid10k, or custom (the flags below).")
@click.option("-n", "--num-samples", type=int, help="Generated samples (default: the protocol's, else the metric's).")
@click.option("--num-reference", type=int, help="Reference images (default: the protocol's, else all up to 50,000).")
@click.option("--seed", type=int, default=0, help="Sampling seed (also seeds KID subsets and IS shuffling).")
@click.option("--features", default=None, help="Feature extractor for FID/KID/PR: inception (default), timm:NAME[@FILE], mnist-classifier.")
@click.option("--ref-stats", type=click.Path(dir_okay=False), help="A .npz with the reference's FID statistics (mu, sigma).")
@click.option("--inception-weights", type=click.Path(dir_okay=False), help="The FID Inception's weights (.safetensors, or the published .pth).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write cached reference features.")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="METRIC.KEY=VALUE",
              help="A metric option, e.g. -o kid.subset_size=500 (`ganzoo list --metrics` names the metrics).")
@click.option("--device", default=None, help="cpu, cuda, cuda:N.  [default: cuda when there is one]")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the results (with protocols) here.")
def eval_cmd(name: str, data: str | None, metric_names: str | None, protocol: str, num_samples: int | None,
             num_reference: int | None, seed: int, features: str | None, ref_stats: str | None,
             inception_weights: str | None, no_cache: bool, option_pairs: tuple[str, ...], device: str | None,
             json_out: str | None) -> None:
    """Score NAME (catalog name, hf-hub:org/repo, model or run folder, or a folder of generated images) against --data."""
    from .bench import DEFAULT_METRICS
    from .data import parse_spec
    from .evaluate import evaluate, format_table, write_results
    from .hub import WeightsError

    if metric_names:
        metrics = metric_names.split(",")
    elif not data:
        metrics = ["fid"]
    else:
        entry = parse_spec(data)[0]
        if entry.kind != "image" or entry.name in ("mnist-5k", "mnist"):  # digits have their own judge
            metrics = DEFAULT_METRICS.get(entry.kind, ["fid"])
        else:
            metrics = ["fid", "kid", "precision_recall"]
    options: dict[str, dict] = {}
    for key, value in _parse_sets(option_pairs).items():
        metric, dot, option = key.partition(".")
        if not dot:
            raise click.BadParameter(f"expected METRIC.KEY=VALUE, got {key!r}", param_hint="-o/--option")
        options.setdefault(metric, {})[option] = value
    try:
        result = evaluate(name, data, metrics, num_samples=num_samples, num_reference=num_reference, seed=seed,
                          features=features, device=device, protocol=protocol, ref_stats=ref_stats,
                          inception_weights=inception_weights, cache=not no_cache, options=options)
    except (FileNotFoundError, WeightsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_table(result))
    if json_out:
        click.echo(f"wrote {write_results(result, json_out)}")


@cli.command()
@click.argument("variants", nargs=-1, required=True)
@click.option("--data", required=True, help="Data spec every variant trains on.")
@click.option("--steps", type=int, help="Budget in iterations per run.")
@click.option("--budget", type=float, help="Budget in seconds of training per run (evaluation not counted).")
@click.option("--seeds", type=int, default=1, help="Runs per variant, seeds 0..K-1.")
@click.option("--evals", type=int, default=4, help="Evaluations per run, at equal fractions of the budget.")
@click.option("--metrics", "metric_names", help="Comma-separated metrics.  [default: mnist_digits for images, modes for points]")
@click.option("--batch-size", type=int, default=64, help="Batch size for every variant.")
@click.option("-c", "--config", "config_pairs", multiple=True, metavar="VARIANT.KEY=VALUE", help="Config for one variant, e.g. -c dcgan.ngf=32.")
@click.option("--ema", type=float, default=0.0, help="EMA decay of every variant's generator (0 = off); evaluations use the EMA.")
@click.option("--threshold", metavar="METRIC>=VALUE", help="Report time to reach it, e.g. mnist_digits.recognisable>=0.5 or fid<=40.")
@click.option("-n", "--num-samples", type=int, help="Samples per evaluation (default: the metric's protocol).")
@click.option("--features", default="inception", help="Feature extractor for FID/KID/PR.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for results.json, results.md, results.png.")
def bench(variants, data, steps, budget, seeds, evals, metric_names, batch_size, config_pairs, ema, threshold, num_samples,
          features, device, out) -> None:
    """Train VARIANTS on the same data with the same budget and compare them side by side."""
    from .bench import parse_threshold, run_bench
    from .config import ConfigError

    config: dict[str, dict] = {}
    for key, value in _parse_sets(config_pairs).items():
        variant, dot, field = key.partition(".")
        if not dot:
            raise click.BadParameter(f"expected VARIANT.KEY=VALUE, got {key!r}", param_hint="-c")
        config.setdefault(variant, {})[field] = value
    level = None
    if threshold:
        try:
            level = parse_threshold(threshold)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--threshold") from None
    try:
        run_bench(list(variants), data, out, steps=steps, budget=budget, seeds=seeds, evals=evals,
                  metrics=metric_names.split(",") if metric_names else None, batch_size=batch_size, config=config,
                  ema=ema, threshold=level, num_samples=num_samples, device=device, features=features)
    except (ConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}/results.json, results.md and results.png")
    click.echo((__import__("pathlib").Path(out) / "results.md").read_text())


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id")
@click.option("--revision", help="Branch to commit to (created when missing).  [default: main]")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--token", envvar="HF_TOKEN", help="Hub token (or set HF_TOKEN).")
@click.option("--with-discriminator", is_flag=True, help="Also publish the discriminators, for fine-tuning.")
def push(run: str, repo_id: str, revision: str | None, private: bool, token: str | None, with_discriminator: bool) -> None:
    """Publish a training RUN folder to the Hub repo REPO_ID (EMA generator, card, samples)."""
    from .hub import push_run

    sha = push_run(run, repo_id, revision=revision, private=private, token=token, with_discriminator=with_discriminator)
    click.echo(f"pushed {run} to {repo_id} at commit {sha}; load it with ganzoo.load('hf-hub:{repo_id}@{sha}')")


@cli.command("import")
@click.argument("source")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write the ganzoo model into.")
@click.option("--sha256", help="The file's sha256 (or its published prefix, 8+ hex digits): checked before it is opened.")
@click.option("--revision", help="Hub revision (branch, tag or commit) of an hf-hub: file.")
def import_cmd(source: str, out: str, sha256: str | None, revision: str | None) -> None:
    """Convert another library's checkpoint: SOURCE is IMPORTER:FILE, IMPORTER:URL or IMPORTER:hf-hub:ORG/REPO/PATH.

    \b
    ganzoo import mmagic-dcgan:dcgan_celeba-cropped_64_b128x1_300kiter_20210408_161607-1f8a2277.pth --out dcgan-celeba
    ganzoo list --importers        the formats it reads
    """
    from .importers import import_checkpoint

    importer, sep, location = source.partition(":")
    if not sep or not importer or not location:
        raise click.BadParameter("write SOURCE as IMPORTER:FILE_OR_URL, e.g. mmagic-dcgan:model.pth "
                                 "(`ganzoo list --importers` names the importers)", param_hint="SOURCE")
    try:
        folder, digest = import_checkpoint(importer, location, out, sha256=sha256, revision=revision)
    except (FileNotFoundError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"imported {location} (sha256 {digest}) into {folder}; load it with ganzoo.load('{folder}')")


@cli.command()
@click.argument("packages", nargs=-1)
@click.option("-e", "--editable", "editables", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Install a local plugin project in development mode (repeatable).")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade to the newest versions.")
def install(packages: tuple[str, ...], editables: tuple[str, ...], upgrade: bool) -> None:
    """Install plugin PACKAGES with pip into the interpreter that runs ganzoo."""
    from .plugins import ganzoo_entry_points

    if not packages and not editables:
        raise click.UsageError("name at least one package, or -e PATH")
    before = ganzoo_entry_points()
    args = [*packages] + [x for path in editables for x in ("-e", path)]
    _pip("install", *(["--upgrade"] if upgrade else []), *args)
    added = {dist: names for dist, names in ganzoo_entry_points().items() if names != before.get(dist)}
    wanted = {_dist_name(p) for p in packages} | {_project_name(p) for p in editables}
    not_plugins = sorted(w for w in wanted if w and _normal(w) not in {_normal(d) for d in ganzoo_entry_points()})
    for dist, names in sorted(added.items()):
        click.echo(f"{dist}: plugin {', '.join(names)} installed; `ganzoo plugins` shows it")
    if not_plugins:
        raise click.ClickException(f"{', '.join(not_plugins)} installed, but is not a ganzoo plugin: it declares no "
                                   f"entry point in the 'ganzoo' group (uninstall it with `ganzoo uninstall`)")


@cli.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages: tuple[str, ...]) -> None:
    """Uninstall plugin PACKAGES with pip."""
    _pip("uninstall", "-y", *packages)


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dest", type=click.Path(file_okay=False), default=".", help="Folder to create the project in.")
def new_plugin(name: str, dest: str) -> None:
    """Write a ready-to-install variant plugin project ganzoo-NAME (networks, step, config, tests)."""
    from pathlib import Path

    from .scaffold import new_plugin as scaffold

    try:
        folder = scaffold(name, Path(dest))
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {folder}\nnext: ganzoo install -e {folder} && pytest {folder}")


def _pip(*args: str) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "pip", *args])
    if done.returncode:
        raise click.ClickException(f"pip {args[0]} failed (exit {done.returncode})")


def _dist_name(requirement: str) -> str | None:
    try:
        from packaging.requirements import Requirement

        return Requirement(requirement).name
    except Exception:  # a path or URL: pip resolves it, the entry-point diff reports it
        return None


def _project_name(path: str) -> str | None:
    from pathlib import Path

    try:
        import tomllib  # Python 3.11+; on 3.10 the entry-point diff alone reports the result

        return tomllib.loads((Path(path) / "pyproject.toml").read_text())["project"]["name"]
    except Exception:
        return None


def _normal(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _describe(entry: Variant | ModelCard) -> dict:
    if isinstance(entry, Variant):
        record = {"variant": entry.name, "summary": entry.summary, "paper": entry.paper,
                  "data": entry.data_kind, "task": entry.task, "plugin": entry.plugin, "license": entry.license}
        try:  # the config dataclass is plain Python: listing its defaults imports no torch
            import dataclasses

            from .config import TRICK_FIELDS

            cls = entry.load_config_class()
            fields = [f.name for f in dataclasses.fields(cls)]
            record["config"] = {name: getattr(cls(), name) for name in fields if name not in TRICK_FIELDS}
            tricks = {name: getattr(cls(), name) for name in fields if name in TRICK_FIELDS}
            if tricks:  # shared by the variants that take them (docs/tricks.md)
                record["discriminator tricks"] = tricks
        except Exception as exc:  # a broken plugin should not hide the rest of the entry
            record["config"] = {"error": str(exc)}
        if entry.suggests:  # what a run on that data takes where the user sets nothing else
            record["suggests"] = {f"on {data}": values for data, values in entry.suggests.items()}
        return record
    return {"model": entry.name, "summary": entry.summary, "variant": entry.variant, "weights": entry.weights,
            "availability": entry.availability, "dataset": entry.dataset, "license": entry.license,
            "recipe": entry.recipe, "plugin": entry.plugin, "config": entry.config, "metrics": entry.metrics,
            **({"source": entry.source} if entry.source else {})}


def _match(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def _table(headers: list[str], rows: list[tuple]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def main() -> None:
    get_state().call_command_hooks(cli)
    cli(prog_name="ganzoo")


if __name__ == "__main__":
    sys.exit(main())
