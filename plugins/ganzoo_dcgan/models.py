"""DCGAN networks: the conv generator and discriminator with the paper's N(0, 0.02) init."""

from torch import nn

from ganzoo import tricks
from ganzoo.networks import ConvDiscriminator, ConvGenerator, dcgan_init

from .config import DCGANConfig


def build(config: DCGANConfig) -> dict[str, nn.Module]:
    G = ConvGenerator(
        config.nz,
        config.ngf,
        config.channels,
        config.image_size,
        norm="batch",
        out_bias=config.out_bias,
        stem=config.g_stem,
        head=config.g_head,
        bn_eps=config.bn_eps,
    )
    D = ConvDiscriminator(
        tricks.d_in_channels(config, config.channels), config.ndf, config.image_size, norm="batch", mbstd=config.mbstd
    )
    dcgan_init(G)
    dcgan_init(D)
    return {"G": G, "D": tricks.apply(D, config)}
