"""Catalog commands: `ganzoo list`, `ganzoo info`, `ganzoo plugins` (none of them imports torch)."""

from __future__ import annotations

import json

import click

from ..plugins import get_state
from ..registry import ModelCard, Variant
from .group import cli, match, table


@cli.command("list")
@click.argument("pattern", default="*")
@click.option("--datasets", is_flag=True, help="List the data specs for --data instead.")
@click.option("--metrics", is_flag=True, help="List the metrics for `ganzoo eval` instead.")
@click.option("--importers", is_flag=True, help="List the checkpoint formats `ganzoo import` reads instead.")
def list_cmd(pattern: str, datasets: bool, metrics: bool, importers: bool) -> None:
    """List variants and pretrained models whose name matches PATTERN (wildcards: * ? [])."""
    state = get_state()
    if importers:
        table(
            ["importer", "variant", "upstream", "plugin", "summary"],
            [(i.name, i.variant, i.upstream, i.plugin, i.summary) for i in state.importers if match(i.name, pattern)],
        )
        return
    if metrics:
        table(
            ["metric", "data", "plugin", "summary"],
            [(m.name, m.data_kind, m.plugin, m.summary) for m in state.metrics if match(m.name, pattern)],
        )
        return
    if datasets:
        rows = [
            (d.name + (":ARG" if d.needs_arg else ""), d.kind, d.plugin, d.summary)
            for d in state.datasets
            if match(d.name, pattern)
        ]
        table(["data spec", "kind", "plugin", "summary"], rows)
        return
    variants = [(v.name, v.plugin, v.summary) for v in state.variants if match(v.name, pattern)]
    models = [(m.name, m.variant, m.availability, m.plugin) for m in state.models if match(m.name, pattern)]
    if not variants and not models:
        click.echo(f"nothing matches {pattern!r}", err=True)
        return
    if variants:
        table(["variant", "plugin", "summary"], variants)
    if models:
        click.echo()
        table(["model", "variant", "weights", "plugin"], models)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
def info(name: str, as_json: bool) -> None:
    """Show what a variant or pretrained model is: paper, config, plugin, where weights live."""
    from ..api import info as api_info

    record = describe(api_info(name))
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


def describe(entry: Variant | ModelCard) -> dict:
    """What `ganzoo info` shows of a variant or a catalog model, as one flat record."""
    if isinstance(entry, Variant):
        return _describe_variant(entry)
    return {
        "model": entry.name,
        "summary": entry.summary,
        "variant": entry.variant,
        "weights": entry.weights,
        "availability": entry.availability,
        "dataset": entry.dataset,
        "license": entry.license,
        "recipe": entry.recipe,
        "plugin": entry.plugin,
        "config": entry.config,
        "metrics": entry.metrics,
        **({"source": entry.source} if entry.source else {}),
    }


def _describe_variant(entry: Variant) -> dict:
    record = {
        "variant": entry.name,
        "summary": entry.summary,
        "paper": entry.paper,
        "data": entry.data_kind,
        "task": entry.task,
        "plugin": entry.plugin,
        "license": entry.license,
    }
    try:  # the config dataclass is plain Python: listing its defaults imports no torch
        import dataclasses

        from ..config import TRICK_FIELDS

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
