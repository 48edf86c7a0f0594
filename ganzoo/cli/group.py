"""The `ganzoo` command group, its error handling and the helpers every command family shares.

Listing and inspecting never import torch; commands that train or sample import it when run.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .. import __version__
from ..registry import UnknownNameError

# Errors that report bad input (a file, a name, a config) or a broken plugin rather than a bug in ganzoo;
# matched by name, so that handling them imports nothing (ganzoo's own error types live beside torch code).
USER_ERRORS = (
    "ConfigError",
    "WeightsError",
    "ModelNameError",
    "PluginError",
    "ImageReadError",
    "DuplicateNameError",
    "HubDataError",
)


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


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, "--version", prog_name="ganzoo")
def cli() -> None:
    """ganzoo: a plugin-based GAN model zoo.

    \b
    ganzoo list                     variants and pretrained models
    ganzoo info dcgan               what one of them is
    ganzoo train dcgan --data mnist-5k --steps 2000 --out runs/dcgan
    """


def parse_sets(pairs: tuple[str, ...], param_hint: str = "-c/--config") -> dict:
    """``-c key=value`` pairs; values are read as JSON when they parse (numbers, lists), else strings."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=param_hint)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def parse_dotted(pairs: tuple[str, ...], param_hint: str, what: str) -> dict[str, dict]:
    """``-c A.KEY=VALUE`` pairs grouped by A: {A: {KEY: VALUE}}; ``what`` names A in the error."""
    grouped: dict[str, dict] = {}
    for key, value in parse_sets(pairs).items():
        head, dot, field = key.partition(".")
        if not dot:
            raise click.BadParameter(f"expected {what}.KEY=VALUE, got {key!r}", param_hint=param_hint)
        grouped.setdefault(head, {})[field] = value
    return grouped


def match(name: str, pattern: str) -> bool:
    """Whether ``name`` matches a shell-style ``pattern`` (* ? [])."""
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def table(headers: list[str], rows: list[tuple]) -> None:
    """Echo rows as left-aligned columns under ``headers``."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def load_model(name: str, device: str, revision: str | None) -> Any:
    """The model NAME on ``device`` for a command, its load warnings echoed; a bad device or a missing model
    is a one-line error."""
    import warnings

    from ..engine.device import resolve_device
    from ..pretrained.names import load

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
    return model
