"""`ganzoo sample`: images from a generator as one grid, a folder of PNGs, walks or a style-mixing table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .group import cli


@cli.command()
@click.argument("name")
@click.option(
    "-n",
    "--num",
    "n",
    type=click.IntRange(min=1),
    help="How many samples (1 or more); with --class-grid, per class.  [default: 64, or 8 per class]",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(),
    help="An image file, one grid (.png, .jpg, .webp, .bmp, .tif), or a folder: one PNG per sample.",
)
@click.option("--seed", type=int, default=0, help="Noise seed: the same seed gives the same images.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option("--revision", help="Hub revision (branch, tag or commit) to load.")
@click.option(
    "--label", help="Conditional models: the class to draw, by index or name (default: classes drawn uniformly)."
)
@click.option("--class-grid", is_flag=True, help="Conditional models: one row per class, -n samples each.")
@click.option(
    "--truncation",
    type=float,
    help="In (0, 1]: fewer odd samples, less variety (W space for stylegan2, a truncated normal z for the others).",
)
@click.option(
    "--interpolate",
    type=click.IntRange(min=2),
    metavar="K",
    help="Latent walks: -n rows of K steps (lerp in W, slerp in z) as a grid at -o and an animated GIF beside it.",
)
@click.option("--mix", is_flag=True, help="Style-based models: a style-mixing table of -n sources by -n destinations.")
def sample(
    name: str,
    n: int | None,
    out: str,
    seed: int,
    device: str,
    revision: str | None,
    label: str | None,
    class_grid: bool,
    truncation: float | None,
    interpolate: int | None,
    mix: bool,
) -> None:
    """Sample N images from NAME (catalog name, hf-hub:org/repo, ./model-folder or run folder).

    A bare catalog name always loads the catalog model; write a folder of the same name as ./NAME.
    """
    from ..engine.outputs import save_grid

    if label is not None and class_grid:
        raise click.UsageError("--label draws one class and --class-grid all of them: give one of the two")
    picked = [
        flag
        for flag, on in (
            ("--class-grid", class_grid),
            ("--interpolate", interpolate),
            ("--mix", mix),
            ("--label", label is not None),
        )
        if on
    ]
    if len(picked) > 1:
        raise click.UsageError(f"{' and '.join(picked)} make different pictures: give one of them")
    n = n or (8 if class_grid or interpolate else 4 if mix else 64)
    target = Path(out)
    as_grid, gif = _check_targets(target, n, interpolate, mix)  # before the model loads
    model = _load_sampler(name, device, revision)
    wanted = int(label) if label is not None and label.lstrip("-").isdigit() else label
    if class_grid and not model.task.conditional:
        raise click.ClickException(f"{name} is unconditional: it has no classes to put in rows")
    count, per_row = _picture_layout(model, n, class_grid, interpolate, mix)
    fix = "give -o a folder (a path without a suffix) for one PNG per sample"
    fix = "ask for a smaller -n or K" if interpolate else "ask for a smaller -n" if mix else fix
    _check_size(model, target, as_grid, count, per_row, fix)
    try:
        if not as_grid:  # a folder: one PNG per sample, written batch by batch as they are made
            labels = model.class_grid_labels(n) if class_grid else wanted
            batches = model.sample_batches(count, seed=seed, labels=labels, truncation=truncation)
            written = _stream_to_folder(batches, target)
            click.echo(f"wrote {written} samples to {target}")
            return
        if class_grid:
            images = model.class_grid(n, seed=seed).cpu()
        elif interpolate:
            images = model.walk(n, interpolate, seed=seed, truncation=truncation).cpu()
        elif mix:
            images = model.style_mix(n, n, seed=seed, truncation=truncation).cpu()
        else:
            images = model.sample(n, seed=seed, labels=wanted, truncation=truncation).cpu()
    except ValueError as exc:  # labels for an unconditional model, a class it does not have, a bad truncation
        raise click.ClickException(str(exc)) from None
    try:
        if interpolate:
            from ..latent import save_walk_gif

            if images.dim() != 4:
                raise click.ClickException(f"--interpolate draws images, and {name} generates points")
            save_grid(images, target, nrow=per_row)
            save_walk_gif(images, n, interpolate, gif)
            click.echo(f"wrote {n} walks of {interpolate} steps to {target} and {gif}")
            return
        save_grid(images, target, nrow=per_row)  # the suffix picks the format
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or target}: {exc.strerror}") from None
    click.echo(f"wrote {len(images)} samples to {target}")


def _picture_layout(model: Any, n: int, class_grid: bool, interpolate: int | None, mix: bool) -> tuple:
    """How many samples the command draws, and how many per grid row (None: a square grid)."""
    if class_grid:
        return model.num_classes * n, n
    if interpolate:
        return n * interpolate, interpolate
    if mix:
        return (n + 1) ** 2, n + 1
    return n, None


def _stream_to_folder(batches: Any, target: Path) -> int:
    """Write each batch's samples as 00000.png, 00001.png, ... as the batch is made; returns how many."""
    from ..engine.outputs import save_grid

    written = 0
    try:
        target.mkdir(parents=True, exist_ok=True)
        for batch in batches:
            for image in batch.cpu():
                save_grid(image.unsqueeze(0), target / f"{written:05d}.png")  # replaces a link, never follows it
                written += 1
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {exc.filename or target}: {exc.strerror} ({written} written)"
        ) from None
    return written


def _check_size(model: Any, target: Path, as_grid: bool, count: int, per_row: int | None, fix: str) -> None:
    """Refuse, before drawing, one picture too large to write, or more PNG files than the disk holds."""
    from ..engine.outputs import check_grid_size, grid_pixels
    from ..output_targets import TargetRefused, refuse_unwritable

    try:
        if as_grid:
            check_grid_size(*grid_pixels(count, tuple(model.output_shape()), per_row))
        else:
            refuse_unwritable(target, False, count)
    except TargetRefused as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(f"{target}: {exc}: {fix}") from None


def _check_targets(target: Path, n: int, interpolate: int | None, mix: bool) -> tuple[bool, Path]:
    """Whether -o is one grid (else a folder of PNGs), and the walk GIF beside it; refuses what may not be written."""
    from ..output_targets import BadTargetName, TargetRefused, grid_target, refuse_non_image, refuse_unwritable

    gif = target.with_suffix(".gif")
    try:
        as_grid = grid_target(target, n)
        if (interpolate or mix) and not as_grid:
            raise click.UsageError(
                f"--{'interpolate' if interpolate else 'mix'} writes one picture: give -o an "
                f"image file such as walk.png, not the folder {target}"
            )
        if interpolate:
            refuse_non_image(gif)
        refuse_unwritable(target, as_grid, n)
        if interpolate:
            refuse_unwritable(gif, True, 1)
    except BadTargetName as exc:
        raise click.BadParameter(str(exc), param_hint="-o/--out") from None
    except TargetRefused as exc:
        raise click.ClickException(str(exc)) from None
    return as_grid, gif


def _load_sampler(name: str, device: str, revision: str | None) -> Any:
    """The model NAME on ``device``, its load warnings echoed; refuses a model that does not sample."""
    from .group import load_model

    model = load_model(name, device, revision)
    if not model.task.samples:
        raise click.ClickException(
            f"{name} is a {model.variant.name} translation model: use model.translate(x) in Python"
        )
    return model
