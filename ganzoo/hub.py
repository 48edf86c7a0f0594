"""Compatibility names for code written against ``ganzoo.hub``: published folders now live in
ganzoo.pretrained (folder, weights, card, names, run, publish) and Hub transfer in ganzoo.hf.
Nothing inside ganzoo imports this module."""

from .hf import HUB_PREFIX, REVISION, ModelNameError, check_hub_name, snapshot
from .pretrained.card import model_card, recipe_command
from .pretrained.folder import (
    CARD_FILE,
    CONFIG_FILE,
    SAMPLES_FILE,
    WEIGHTS_FILE,
    build_from_record,
    load_folder,
    read_config,
    record_classes,
    save_pretrained,
    variant_and_config,
)
from .pretrained.names import download, load
from .pretrained.publish import push_run, push_to_hub
from .pretrained.run import load_run
from .pretrained.weights import WeightsError, assign_strict, check_fits, check_tensors, read_header

__all__ = [  # the names ganzoo.hub had before the split
    "HUB_PREFIX", "REVISION", "ModelNameError", "check_hub_name", "snapshot", "model_card", "recipe_command",
    "CARD_FILE", "CONFIG_FILE", "SAMPLES_FILE", "WEIGHTS_FILE", "build_from_record", "load_folder", "read_config",
    "record_classes", "save_pretrained", "variant_and_config", "download", "load", "push_run", "push_to_hub",
    "load_run", "WeightsError", "assign_strict", "check_fits", "check_tensors", "read_header", "generator_names",
]  # fmt: skip


def generator_names(model):
    """The networks a published folder keeps: now ``model.task.generators(model.nets)``."""
    return model.task.generators(model.nets)
