"""DCGAN networks: the conv generator and discriminator with the paper's N(0, 0.02) init (class-conditional
with ``num_classes`` > 0: cBN in G, the projection in D)."""

from torch import nn

from ganzoo import tricks
from ganzoo.networks import (
    ConditionalConvGenerator,
    ConvDiscriminator,
    ConvGenerator,
    ProjectionConvDiscriminator,
    dcgan_init,
)

from .config import DCGANConfig


def build(config: DCGANConfig) -> dict[str, nn.Module]:
    k = config.num_classes  # > 0: cBN in G, the projection in D
    g_args = (config.nz, config.ngf, config.channels, config.image_size)
    g_kwargs = dict(out_bias=config.out_bias, stem=config.g_stem, head=config.g_head, bn_eps=config.bn_eps)
    G = ConditionalConvGenerator(k, *g_args, **g_kwargs) if k else ConvGenerator(*g_args, norm="batch", **g_kwargs)
    d_args = (tricks.d_in_channels(config, config.channels), config.ndf, config.image_size, "batch", config.mbstd)
    D = ProjectionConvDiscriminator(k, *d_args) if k else ConvDiscriminator(*d_args)
    dcgan_init(G)
    dcgan_init(D)
    return {"G": G, "D": tricks.apply(D, config)}
