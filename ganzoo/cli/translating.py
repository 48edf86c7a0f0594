"""`ganzoo translate`: one image through a translation model, written as one image file.

The input and the output path are checked before the model loads: the input must be an image PIL
reads, the output an image file name (.png, .jpg, ...) that is not a link, and an existing file
there is kept unless --force is given (even then, only an image is replaced: a file of another kind
was not written by ganzoo). The image is written beside the target and moved into place, so a
failed run leaves the old file as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .group import cli


@cli.command()
@click.argument("name")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--out", required=True, type=click.Path(dir_okay=False), help="The image file to write (.png, .jpg, ...)."
)
@click.option(
    "--direction",
    type=click.Choice(["a2b", "b2a"]),
    default="a2b",
    help="a2b: domain A to B; b2a: back, for a model that has that generator.",
)
@click.option(
    "--size",
    type=click.Choice(["model", "original"]),
    default="model",
    help="model: the model's square side (what the CycleGAN/pix2pix authors' test.py writes); original: IMAGE's size.",
)
@click.option("--force", is_flag=True, help="Replace an existing image at -o.")
@click.option("--device", default="cpu", help="cpu, cuda, cuda:N.")
@click.option("--revision", help="Hub revision (branch, tag or commit) to load.")
def translate(
    name: str, image: str, out: str, direction: str, size: str, force: bool, device: str, revision: str | None
) -> None:
    """Translate IMAGE with NAME (catalog name, hf-hub:org/repo, ./model-folder or run folder) into -o.

    IMAGE of any size is resized to the model's side and scaled as the model was trained; the result
    is written at the model's side, or at IMAGE's own size with --size original.
    """
    from ..images import read_image

    target = Path(out)
    _check_target(target, force)
    picture = read_image(image)  # an unreadable input is refused before the model loads
    model = _load_translator(name, direction, device, revision)
    try:
        result = model.translate(picture, direction, size=size)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _write(result, target)
    click.echo(f"wrote {target} ({result.size[0]}x{result.size[1]}, {direction})")


def _check_target(target: Path, force: bool) -> None:
    """Refuse an output path ganzoo must not write, before the model loads."""
    from ..output_targets import GRID_SUFFIXES, BadTargetName, TargetRefused, grid_target, refuse_unwritable

    if target.suffix.lower() not in GRID_SUFFIXES:
        raise click.ClickException(
            f"-o {target} names no image file: give it an image suffix ({', '.join(GRID_SUFFIXES)})"
        )
    if target.exists() and not force and not target.is_symlink():
        raise click.ClickException(f"{target} exists; ganzoo will not replace it: pass --force or choose another -o")
    try:
        grid_target(target, 1)  # a link, a file that is not an image (even with --force), a format Pillow lacks
        refuse_unwritable(target, True, 1)
    except (TargetRefused, BadTargetName) as exc:
        raise click.ClickException(str(exc)) from None


def _load_translator(name: str, direction: str, device: str, revision: str | None) -> Any:
    """The model NAME on ``device``, its load warnings echoed; refuses a sampler and a direction it lacks."""
    from .group import load_model

    model = load_model(name, device, revision)
    if not model.task.translates:
        raise click.ClickException(
            f"{name} is a {model.variant.name} model that generates from noise, not a translator: "
            f"use `ganzoo sample {name} -o OUT.png`"
        )
    try:
        model.task.generator(model.nets, direction, model.variant.name)
    except ValueError as exc:
        raise click.ClickException(f"{name}: {exc}") from None
    return model


def _write(image: Any, target: Path) -> None:
    """Save ``image`` beside ``target`` and move it into place: the old file stays whole if saving fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format=_format(target))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {target}: {exc}") from None


def _format(target: Path) -> str:
    """The PIL format of an image suffix (the temporary file's own name has none PIL knows)."""
    from PIL import Image

    Image.init()
    return Image.EXTENSION[target.suffix.lower()]
