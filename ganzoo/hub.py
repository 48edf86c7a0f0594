"""Compatibility names for code written against ``ganzoo.hub``: published folders now live in
ganzoo.pretrained (folder, weights, card, names, run, publish) and Hub transfer in ganzoo.hf.
Nothing inside ganzoo imports this module."""

from .hf import HUB_PREFIX, REVISION, ModelNameError, check_hub_name, snapshot  # noqa: F401
from .pretrained.card import model_card, recipe_command  # noqa: F401
from .pretrained.folder import (CARD_FILE, CONFIG_FILE, SAMPLES_FILE, WEIGHTS_FILE, build_from_record,  # noqa: F401
                                load_folder, read_config, record_classes, save_pretrained, variant_and_config)
from .pretrained.names import download, load  # noqa: F401
from .pretrained.publish import push_run, push_to_hub  # noqa: F401
from .pretrained.run import load_run  # noqa: F401
from .pretrained.weights import WeightsError, assign_strict, check_fits, check_tensors, read_header  # noqa: F401


def generator_names(model):
    """The networks a published folder keeps: now ``model.task.generators(model.nets)``."""
    return model.task.generators(model.nets)
