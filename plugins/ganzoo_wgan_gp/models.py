"""WGAN-GP networks: the DCGAN generator and a DCGAN-style critic without batch norm (images),
or MLPs (flat data). The critic outputs an unbounded score (B,)."""

from torch import nn

from ganzoo import tricks
from ganzoo.networks import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator, dcgan_init

from .config import WGANGPConfig


def build(config: WGANGPConfig) -> dict[str, nn.Module]:
    if config.dim:
        hidden = (config.hidden,) * config.depth
        G = MLPGenerator(config.nz, hidden, (config.dim,), activation="relu", tanh=False)
        D = MLPDiscriminator((tricks.d_in_channels(config, config.dim),), hidden, activation="relu", mbstd=config.mbstd)
        return {"G": G, "D": tricks.apply(D, config)}
    G = ConvGenerator(config.nz, config.ngf, config.channels, config.image_size, norm="batch")
    D = ConvDiscriminator(
        tricks.d_in_channels(config, config.channels),
        config.ndf,
        config.image_size,
        norm=config.critic_norm,
        mbstd=config.mbstd,
    )
    dcgan_init(G)
    dcgan_init(D)
    return {"G": G, "D": tricks.apply(D, config)}
