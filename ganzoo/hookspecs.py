"""The hooks a ganzoo plugin can implement.

Each registration hook receives a ``register`` callback instead of returning values, so the core
sees every entry as it arrives, refuses duplicates with a message naming both plugins, and
records which plugin gave what. Implement a hook with ``@ganzoo.hookimpl``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")  # marks a plugin's implementations (also ganzoo.hookimpl)


@hookspec
def ganzoo_register_variants(register):
    """Register GAN variants: call ``register(Variant(...))`` once per variant.

    A variant names its config dataclass, network builder and training step as lazy
    "module:attr" strings, so that listing variants never imports torch.
    """


@hookspec
def ganzoo_register_models(register):
    """Register pretrained catalog entries: call ``register(ModelCard(...))`` for each.

    A card says where its weights are: bundled in a package, on the Hugging Face Hub, or
    "recipe" (not published yet; its recipe is the command that trains them).
    """


@hookspec
def ganzoo_register_datasets(register):
    """Register data specs for ``--data``: call ``register(DatasetSpec(...))`` for each."""


@hookspec
def ganzoo_register_metrics(register):
    """Register metrics for ``ganzoo eval`` and ``ganzoo bench``: ``register(MetricSpec(...))``."""


@hookspec
def ganzoo_register_importers(register):
    """Register checkpoint importers for ``ganzoo import``: ``register(ImporterSpec(...))`` for each."""


@hookspec
def ganzoo_register_commands(cli):
    """Add subcommands to the ``ganzoo`` click group: ``@cli.command()`` inside the hook."""
