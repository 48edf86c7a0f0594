"""`ganzoo train`: a run folder from a variant and data, or the continuation of one."""

from __future__ import annotations

import sys

import click

from .group import cli, parse_sets


@cli.command()
@click.argument("variant", required=False)
@click.option(
    "--data",
    help="Data spec: mnist-5k, ring8, grid25, cifar10:ROOT, hf:ORG/NAME, a folder, ... (`ganzoo list --datasets`).",
)
@click.option("--steps", type=int, help="Total iterations (generator updates).  [default: 1000]")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder to write (or to resume).")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Continue the run in this folder from its latest checkpoint.",
)
@click.option("--image-size", type=int, help="Config shortcut: image side in pixels.")
@click.option("--channels", type=int, help="Config shortcut: 1 (grayscale) or 3 (RGB).")
@click.option(
    "-c",
    "--config",
    "config_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Variant config override (repeatable), e.g. -c lr=1e-4.",
)
@click.option("--batch-size", type=int, help="Real images per iteration and process.  [default: 64]")
@click.option("--budget", type=float, help="Wall-clock seconds for this invocation (0 = no limit).")
@click.option("--device", help="cpu, cuda, cuda:N or auto.  [default: auto]")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), help="Numeric precision.  [default: fp32]")
@click.option("--channels-last/--no-channels-last", default=None, help="NHWC memory format for conv nets.")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the networks.")
@click.option(
    "--sync-bn/--no-sync-bn", default=None, help="Under torchrun: batch norm over the global batch (SyncBatchNorm)."
)
@click.option(
    "--accumulate",
    type=int,
    metavar="K",
    help="Sum gradients over K micro-batches per optimizer step (global batch = batch x K x processes).  [default: 1]",
)
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
def train(
    variant, data, steps, out, resume_dir, image_size, channels, config_pairs, image_column, label_column, **engine
) -> None:
    """Train VARIANT on --data into the run folder --out (or continue one with --resume DIR).

    \b
    ganzoo train dcgan --data mnist-5k --image-size 32 --channels 1 --steps 2000 --out runs/dcgan
    ganzoo train --resume runs/dcgan --steps 4000
    """
    from ..api import train as api_train
    from ..config import ConfigError
    from ..engine import NonFiniteLossError, TrainingInterrupted

    engine = {("compile" if k == "compile_" else k): v for k, v in engine.items() if v is not None}
    overrides = parse_sets(config_pairs)
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
        run = api_train(
            variant,
            data,
            steps=steps,
            out=out,
            resume=bool(resume_dir),
            config=overrides,
            data_options={"image_column": image_column, "label_column": label_column},
            **engine,
        )
    except TrainingInterrupted as exc:
        click.echo(f"\n{exc}", err=True)
        sys.exit(130)
    except (ConfigError, FileExistsError, FileNotFoundError, NonFiniteLossError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"done: {run}")
    from ..engine.distributed import end_finished_rank

    end_finished_rank()  # a rank of a finished torchrun run exits here; one process goes on
