"""LSGAN networks: ganzoo's DCGAN generator and discriminator, with the DCGAN N(0, 0.02) init.

The discriminator's output is a raw score (no sigmoid): the least-squares loss regresses it.
"""

from torch import nn

from ganzoo.networks import ConvDiscriminator, ConvGenerator, dcgan_init

from .config import LSGANConfig


def build(config: LSGANConfig) -> dict[str, nn.Module]:
    G = ConvGenerator(config.nz, config.ngf, config.channels, config.image_size, norm="batch")  # z -> (B, C, S, S)
    D = ConvDiscriminator(config.channels, config.ndf, config.image_size, norm="batch")  # (B, C, S, S) -> (B,)
    dcgan_init(G)
    dcgan_init(D)
    return {"G": G, "D": D}
