"""Vanilla GAN networks: MLPs over flattened data."""

from torch import nn

from ganzoo import tricks
from ganzoo.networks import MLPDiscriminator, MLPGenerator

from .config import VanillaConfig


def build(config: VanillaConfig) -> dict[str, nn.Module]:
    # Images are in [-1, 1], so the generator ends in tanh; flat data (2D mixtures) is unbounded.
    G = MLPGenerator(
        config.nz, config.g_hidden, config.data_shape, activation="relu", tanh=config.dim == 0, norm=config.g_norm
    )
    first, *rest = config.data_shape
    D = MLPDiscriminator(
        (tricks.d_in_channels(config, first), *rest),
        config.d_hidden,
        activation="leaky_relu",
        dropout=config.dropout,
        mbstd=config.mbstd,
    )
    return {"G": G, "D": tricks.apply(D, config)}
