"""The `ganzoo` command line; each subcommand mirrors a function of the Python API.

Listing and inspecting never import torch; commands that train or sample import it when run.
"""

from __future__ import annotations

import json
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
def list_cmd(pattern: str, datasets: bool) -> None:
    """List variants and pretrained models whose name matches PATTERN (wildcards: * ? [])."""
    state = get_state()
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


def _describe(entry: Variant | ModelCard) -> dict:
    if isinstance(entry, Variant):
        record = {"variant": entry.name, "summary": entry.summary, "paper": entry.paper,
                  "data": entry.data_kind, "task": entry.task, "plugin": entry.plugin, "license": entry.license}
        try:  # the config dataclass is plain Python: listing its defaults imports no torch
            import dataclasses

            cls = entry.load_config_class()
            record["config"] = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
        except Exception as exc:  # a broken plugin should not hide the rest of the entry
            record["config"] = {"error": str(exc)}
        return record
    return {"model": entry.name, "summary": entry.summary, "variant": entry.variant, "weights": entry.weights,
            "availability": entry.availability, "dataset": entry.dataset, "license": entry.license,
            "recipe": entry.recipe, "plugin": entry.plugin, "config": entry.config, "metrics": entry.metrics}


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
