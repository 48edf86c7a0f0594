"""`ganzoo eval` (score one generator) and `ganzoo bench` (train variants side by side and compare them)."""

from __future__ import annotations

from pathlib import Path

import click

from .group import cli, parse_dotted


@cli.command("eval")
@click.argument("name")
@click.option(
    "--data",
    help="Reference data spec (e.g. mnist-5k, ring8, cifar10:ROOT, a folder); optional with --ref-stats for FID.",
)
@click.option(
    "--metrics",
    "metric_names",
    default=None,
    help="Comma-separated metrics (`ganzoo list --metrics`).  [default: by data kind]",
)
@click.option(
    "--protocol",
    default="custom",
    show_default=True,
    help="fid50k-full (50k vs the whole set), fid10k, or custom (the flags below).",
)
@click.option("-n", "--num-samples", type=int, help="Generated samples (default: the protocol's, else the metric's).")
@click.option("--num-reference", type=int, help="Reference images (default: the protocol's, else all up to 50,000).")
@click.option("--seed", type=int, default=0, help="Sampling seed (also seeds KID subsets and IS shuffling).")
@click.option(
    "--features",
    default=None,
    help="Feature extractor for FID/KID/PR: inception (default), timm:NAME[@FILE], mnist-classifier.",
)
@click.option(
    "--ref-stats", type=click.Path(dir_okay=False), help="A .npz with the reference's FID statistics (mu, sigma)."
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    help="The FID Inception's weights (.safetensors, or the published .pth).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write cached reference features.")
@click.option(
    "-o",
    "--option",
    "option_pairs",
    multiple=True,
    metavar="METRIC.KEY=VALUE",
    help="A metric option, e.g. -o kid.subset_size=500 (`ganzoo list --metrics` names the metrics).",
)
@click.option("--device", default=None, help="cpu, cuda, cuda:N.  [default: cuda when there is one]")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Also write the results (with protocols) here."
)
def eval_cmd(
    name: str,
    data: str | None,
    metric_names: str | None,
    protocol: str,
    num_samples: int | None,
    num_reference: int | None,
    seed: int,
    features: str | None,
    ref_stats: str | None,
    inception_weights: str | None,
    no_cache: bool,
    option_pairs: tuple[str, ...],
    device: str | None,
    json_out: str | None,
) -> None:
    """Score NAME (catalog name, hf-hub:org/repo, model or run folder, or a folder of generated images) against
    --data."""
    from ..engine.distributed import end_finished_rank
    from ..evaluate import default_metrics, evaluate, format_table, write_results
    from ..metrics import sharding
    from ..pretrained.weights import WeightsError

    metrics = metric_names.split(",") if metric_names else default_metrics(data)
    options = parse_dotted(option_pairs, "-o/--option", "METRIC")
    try:
        with sharding.session():  # under torchrun: every rank draws and extracts a share; rank 0 reports
            main = sharding.is_main()
            result = evaluate(
                name,
                data,
                metrics,
                num_samples=num_samples,
                num_reference=num_reference,
                seed=seed,
                features=features,
                device=device,
                protocol=protocol,
                ref_stats=ref_stats,
                inception_weights=inception_weights,
                cache=not no_cache,
                options=options,
            )
    except (FileNotFoundError, WeightsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if main:
        click.echo(format_table(result))
        if json_out:
            click.echo(f"wrote {write_results(result, json_out)}")
    end_finished_rank()  # a rank of a finished torchrun launch exits here; one process goes on


@cli.command()
@click.argument("variants", nargs=-1, required=True)
@click.option("--data", required=True, help="Data spec every variant trains on.")
@click.option("--steps", type=int, help="Budget in iterations per run.")
@click.option("--budget", type=float, help="Budget in seconds of training per run (evaluation not counted).")
@click.option("--seeds", type=int, default=1, help="Runs per variant, seeds 0..K-1.")
@click.option("--evals", type=int, default=4, help="Evaluations per run, at equal fractions of the budget.")
@click.option(
    "--metrics", "metric_names", help="Comma-separated metrics.  [default: mnist_digits for images, modes for points]"
)
@click.option("--batch-size", type=int, default=64, help="Batch size for every variant.")
@click.option(
    "-c",
    "--config",
    "config_pairs",
    multiple=True,
    metavar="VARIANT.KEY=VALUE",
    help="Config for one variant, e.g. -c dcgan.ngf=32.",
)
@click.option(
    "--ema", type=float, default=0.0, help="EMA decay of every variant's generator (0 = off); evaluations use the EMA."
)
@click.option(
    "--threshold",
    metavar="METRIC>=VALUE",
    help="Report time to reach it, e.g. mnist_digits.recognisable>=0.5 or fid<=40.",
)
@click.option("-n", "--num-samples", type=int, help="Samples per evaluation (default: the metric's protocol).")
@click.option("--features", default="inception", help="Feature extractor for FID/KID/PR.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for results.json, results.md, results.png."
)
def bench(
    variants,
    data,
    steps,
    budget,
    seeds,
    evals,
    metric_names,
    batch_size,
    config_pairs,
    ema,
    threshold,
    num_samples,
    features,
    device,
    out,
) -> None:
    """Train VARIANTS on the same data with the same budget and compare them side by side."""
    from ..bench import parse_threshold, run_bench
    from ..config import ConfigError
    from ..engine.distributed import end_finished_rank
    from ..metrics import sharding

    config = parse_dotted(config_pairs, "-c", "VARIANT")
    level = None
    if threshold:
        try:
            level = parse_threshold(threshold)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--threshold") from None
    try:
        with sharding.session():  # under torchrun: rank 0 trains, every rank evaluates a share, rank 0 reports
            main = sharding.is_main()
            run_bench(
                list(variants),
                data,
                out,
                steps=steps,
                budget=budget,
                seeds=seeds,
                evals=evals,
                metrics=metric_names.split(",") if metric_names else None,
                batch_size=batch_size,
                config=config,
                ema=ema,
                threshold=level,
                num_samples=num_samples,
                device=device,
                features=features,
            )
    except (ConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if main:
        click.echo(f"wrote {out}/results.json, results.md and results.png")
        click.echo((Path(out) / "results.md").read_text())
    end_finished_rank()  # a rank of a finished torchrun launch exits here; one process goes on
