"""Commands that move models and plugins: `ganzoo push`, `import`, `install`, `uninstall`, `new-plugin`."""

from __future__ import annotations

import click

from .group import cli


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id")
@click.option("--revision", help="Branch to commit to (created when missing).  [default: main]")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--token", envvar="HF_TOKEN", help="Hub token (or set HF_TOKEN).")
@click.option("--with-discriminator", is_flag=True, help="Also publish the discriminators, for fine-tuning.")
def push(
    run: str, repo_id: str, revision: str | None, private: bool, token: str | None, with_discriminator: bool
) -> None:
    """Publish a training RUN folder to the Hub repo REPO_ID (EMA generator, card, samples)."""
    from ..pretrained.publish import push_run

    sha = push_run(run, repo_id, revision=revision, private=private, token=token, with_discriminator=with_discriminator)
    click.echo(f"pushed {run} to {repo_id} at commit {sha}; load it with ganzoo.load('hf-hub:{repo_id}@{sha}')")


@cli.command("import")
@click.argument("source")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write the ganzoo model into.")
@click.option(
    "--sha256",
    help="The file's full sha256 (64 hex digits): checked before it is opened (its form before downloading).",
)
@click.option("--revision", help="Hub revision (branch, tag or commit) of an hf-hub: file.")
def import_cmd(source: str, out: str, sha256: str | None, revision: str | None) -> None:
    """Convert another library's checkpoint: SOURCE is IMPORTER:FILE, IMPORTER:URL or IMPORTER:hf-hub:ORG/REPO/PATH.

    \b
    ganzoo import mmagic-dcgan:dcgan_celeba-cropped_64_b128x1_300kiter_20210408_161607-1f8a2277.pth --out dcgan-celeba
    ganzoo list --importers        the formats it reads
    """
    from ..importers import import_checkpoint

    importer, sep, location = source.partition(":")
    if not sep or not importer or not location:
        raise click.BadParameter(
            "write SOURCE as IMPORTER:FILE_OR_URL, e.g. mmagic-dcgan:model.pth "
            "(`ganzoo list --importers` names the importers)",
            param_hint="SOURCE",
        )
    try:
        folder, digest = import_checkpoint(importer, location, out, sha256=sha256, revision=revision)
    except OSError as exc:  # a missing file, a folder ganzoo must not write, a failed download or write
        raise click.ClickException(str(exc)) from None
    click.echo(f"imported {location} (sha256 {digest}) into {folder}; load it with ganzoo.load('{folder}')")


@cli.command()
@click.argument("packages", nargs=-1)
@click.option(
    "-e",
    "--editable",
    "editables",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Install a local plugin project in development mode (repeatable).",
)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade to the newest versions.")
def install(packages: tuple[str, ...], editables: tuple[str, ...], upgrade: bool) -> None:
    """Install plugin PACKAGES with pip into the interpreter that runs ganzoo."""
    from .. import plugin_install

    if not packages and not editables:
        raise click.UsageError("name at least one package, or -e PATH")
    try:
        done = plugin_install.install(packages, editables, upgrade=upgrade)
    except plugin_install.PipError as exc:
        raise click.ClickException(str(exc)) from None
    for dist, names in sorted(done.added.items()):
        click.echo(f"{dist}: plugin {', '.join(names)} installed; `ganzoo plugins` shows it")
    if done.not_plugins:
        raise click.ClickException(
            f"{', '.join(done.not_plugins)} installed, but is not a ganzoo plugin: it "
            f"declares no entry point in the 'ganzoo' group (uninstall it with "
            f"`ganzoo uninstall`)"
        )


@cli.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages: tuple[str, ...]) -> None:
    """Uninstall plugin PACKAGES with pip."""
    from .. import plugin_install

    try:
        plugin_install.uninstall(packages)
    except plugin_install.PipError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dest", type=click.Path(file_okay=False), default=".", help="Folder to create the project in.")
def new_plugin(name: str, dest: str) -> None:
    """Write a ready-to-install variant plugin project ganzoo-NAME (networks, step, config, tests)."""
    from pathlib import Path

    from ..scaffold import new_plugin as scaffold

    try:
        folder = scaffold(name, Path(dest))
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {folder}\nnext: ganzoo install -e {folder} && pytest {folder}")
