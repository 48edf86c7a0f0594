"""StyleGAN2 config with the official defaults (Karras et al. 2020; NVlabs/stylegan2-ada-pytorch train.py).

Widths follow the official rule: a block at resolution r has min(channel_base // r, channel_max)
channels. The paper's nets use channel_base 32768 and channel_max 512 (about 20M parameters per
network at 32x32); ``channel_base=2048, channel_max=64`` gives a net a CPU trains in minutes.

The discriminator tricks are the shared ones (ganzoo.config.DiscriminatorTricks) with StyleGAN2's
defaults: R1 (``r1``, lazy: every ``r1_interval`` D steps), minibatch std (``mbstd``, a group of 4)
and DiffAugment (``augment``); configs written before they were shared name two of them otherwise
(``RENAMED``), and still load.
"""

from dataclasses import dataclass
from typing import ClassVar

from ganzoo.config import (
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_count,
    check_fraction,
    check_non_negative,
    check_positive,
    check_power_of_two_size,
    check_tricks,
)


@dataclass
class StyleGAN2Config(DiscriminatorTricks):  # pack, mbstd, augment, r1, real_label, lr_d: ganzoo.config
    image_size: int = 32  # side of the square images: any power of two >= 8
    channels: int = 3  # 1 = grayscale, 3 = RGB
    z_dim: int = 512  # length of the input latent z
    w_dim: int = 512  # length of the intermediate latent w (the style)
    mapping_layers: int = 8  # fully connected layers of the mapping network z -> w (official cifar config: 2)
    mapping_lr_mul: float = 0.01  # learning-rate multiplier of the mapping network (equalised learning rate)
    w_avg_beta: float = 0.995  # decay of the tracked mean w that truncation pulls towards
    channel_base: int = 32768  # widths: min(channel_base // resolution, channel_max) per block
    channel_max: int = 512  # the widest any block gets
    g_architecture: str = "skip"  # "skip" (paper: toRGB outputs summed), "orig" or "resnet" (toRGB of the last
    #                              block only; "resnet" adds 1x1 shortcuts)
    d_architecture: str = "resnet"  # "resnet" (paper: residual D), "orig" (the official cifar config: no skips)
    #                                  or "skip" (the image, downsampled, enters every block)
    mbstd: int = 4  # minibatch standard deviation: samples per group (official cifar config: 32; 0 = none)
    mbstd_channels: int = 1  # minibatch standard deviation: features appended (0 = none)
    lr: float = 0.0025  # Adam learning rate of G, and of D unless lr_d is set (before the
    #                     lazy-regularisation correction)
    betas: tuple = (0.0, 0.99)  # Adam betas (before the lazy-regularisation correction)
    r1: float = 0.01  # R1 weight gamma (official cifar config 0.01; 0 = no R1)
    r1_interval: int = 16  # lazy R1: applied every this many D steps, weighted by the interval
    pl_weight: float = 2.0  # path-length regularisation weight (0 = none; official cifar config: 0)
    pl_interval: int = 4  # lazy path-length regularisation: every this many G steps
    pl_decay: float = 0.01  # decay of the running mean path length
    pl_batch_shrink: int = 2  # the path-length pass uses batch // this many samples
    style_mixing: float = 0.9  # probability that a training batch mixes the styles of two latents (0 = none)
    output: str = "linear"  # G's last step: "linear" (the paper: raw pixels, clamped only in samples)
    #                         or "tanh" (bounded like DCGAN's)
    augment: str = "translation,cutout"  # DiffAugment ops on every D input (on by default: small data sets); "" = none
    ema_kimg: float = 10.0  # EMA half-life in thousands of images, when the run has --ema on (0 = the
    #                         run's fixed --ema decay)
    ema_rampup: float = 0.05  # early on the half-life is at most this fraction of the images seen (0 = no ramp-up)
    num_classes: int = 0  # classes of a conditional G and D (G: the one-hot class embedded beside z in the mapping;
    #                      D: a projection onto a class embedding; as NVlabs' conditional nets); 0 = unconditional
    d_mapping_layers: int = 8  # a conditional D's class-embedding layers (NVlabs' MappingNetwork default: 8)
    conv_clamp: float = 0.0  # conv outputs of G (toRGB too) and D (not the resnet shortcut) clamped to
    #                         [-conv_clamp, conv_clamp] (official configs: 256; the paper's nets: none); 0 = no clamp
    up_conv: str = "upsample_first"  # G's upsampling convs: "upsample_first" (zero-insert and blur, then the 3x3
    #                                  conv) or "transposed" (NVlabs' code: a stride-2 transposed 3x3 conv, then
    #                                  the blur; the same inside, other values on the border pixels)

    # old name -> new name of keys that config.json files written before the shared tricks hold
    RENAMED: ClassVar[dict[str, str]] = {"r1_gamma": "r1", "mbstd_group": "mbstd"}

    def __post_init__(self):
        check_power_of_two_size(self, minimum=8)
        check_channels(self)
        for name in (
            "z_dim",
            "w_dim",
            "mapping_layers",
            "channel_base",
            "channel_max",
            "r1_interval",
            "pl_interval",
            "pl_batch_shrink",
        ):
            check_count(self, name)
        check_count(self, "mbstd_channels", 0, "none")
        check_count(self, "num_classes", 0, "unconditional")
        check_count(self, "d_mapping_layers", 0)
        check_non_negative(self, "conv_clamp", "no clamp")
        check_choice(self, "d_architecture", ("resnet", "orig", "skip"))
        check_choice(self, "g_architecture", ("skip", "orig", "resnet"))
        check_choice(self, "output", ("linear", "tanh"))
        check_choice(self, "up_conv", ("upsample_first", "transposed"))
        check_positive(self, "lr", "mapping_lr_mul")
        check_betas(self)
        for name in ("pl_weight", "ema_kimg", "ema_rampup"):
            check_non_negative(self, name)
        for name in ("w_avg_beta", "pl_decay", "style_mixing"):
            check_fraction(self, name)
        check_tricks(self)  # pack, mbstd, augment, r1, real_label, lr_d
        narrowest = min(self.channel_base // self.image_size, self.channel_max)
        if narrowest < 1:
            raise ConfigError(
                f"channel_base={self.channel_base} leaves the {self.image_size}x{self.image_size} block "
                f"with no channels: use channel_base >= {self.image_size}"
            )
        if self.mbstd and self.mbstd_channels and min(self.channel_base // 4, self.channel_max) % self.mbstd_channels:
            raise ConfigError(
                f"mbstd_channels={self.mbstd_channels} must divide the 4x4 block's width "
                f"{min(self.channel_base // 4, self.channel_max)}"
            )
