"""The `ganzoo` command line; each subcommand mirrors a function of the Python API.

The group and its error handling live in ``group``; each command family in a module of its own:
``catalog`` (list, info, plugins), ``training`` (train), ``sampling`` (sample), ``translating``
(translate), ``scoring`` (eval, bench) and ``publishing`` (push, import, install, uninstall,
new-plugin); ``export`` and ``demo`` come from ganzoo.export and ganzoo.demo. Listing and inspecting
never import torch; commands that train, sample or translate import it when run.
"""

from __future__ import annotations

import sys

from ..demo import demo_command
from ..export import export_command
from ..plugins import get_state
from . import catalog, publishing, sampling, scoring, training, translating  # noqa: F401  (each adds its commands to `cli`)
from .group import USER_ERRORS, GanzooGroup, cli

cli.add_command(export_command)  # ganzoo export NAME --format onnx
cli.add_command(demo_command)  # ganzoo demo NAME (the demo extra)

__all__ = ["cli", "main", "GanzooGroup", "USER_ERRORS"]


def main() -> None:
    """The console script: the built-in commands, those that plugins register, then run."""
    get_state().call_command_hooks(cli)
    cli(prog_name="ganzoo")


if __name__ == "__main__":
    sys.exit(main())
