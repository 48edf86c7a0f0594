"""DCGAN config with the paper's defaults (its reference code: 64x64, nz 100, 64 filters)."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_count,
    check_fraction,
    check_positive,
    check_power_of_two_size,
    check_tricks,
)


@dataclass
class DCGANConfig(DiscriminatorTricks):  # pack, mbstd, augment, r1, real_label, lr_d: ganzoo.config
    image_size: int = 64  # side of the square images, a power of two >= 16 (paper: 64)
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 100  # length of the latent vector z
    ngf: int = 64  # generator width: filters of its last hidden layer
    ndf: int = 64  # discriminator width: filters of its first layer
    lr: float = 2e-4  # Adam learning rate for both networks
    betas: tuple = (0.5, 0.999)  # Adam betas; beta1 = 0.5 as the paper advises
    decay_start: float = 1.0  # fraction of the run after which both learning rates fall linearly
    #                           to 0 by its end; 1.0 = constant, as in the paper
    out_bias: bool = False  # a bias on G's output layer (mmagic's DCGAN has one); False = as ganzoo trains it
    g_stem: str = "deconv"  # how G makes its 4x4 map from z: "deconv" = 4x4 transposed conv, batch norm, ReLU
    #                         (paper); "linear" = a linear layer with bias, no norm or activation (StudioGAN)
    g_head: str = "deconv"  # G's output layer: "deconv" = the last transposed conv doubles the size (paper);
    #                         "conv3x3" = every doubling is normed, then a 3x3 conv to the image (StudioGAN)
    bn_eps: float = 1e-5  # epsilon of G's batch norms (StudioGAN's nets use 1e-4)
    num_classes: int = 0  # > 0: class-conditional, with the data's number of classes: a per-class gain and bias
    #                       in G's batch norms, the projection in D (StudioGAN's conditional DCGAN); 0 = the paper's

    def __post_init__(self):
        check_power_of_two_size(self)
        check_channels(self)
        check_positive(self, "nz", "ngf", "ndf", "lr")
        check_betas(self)
        check_fraction(self, "decay_start")
        if type(self.out_bias) is not bool:
            raise ConfigError(f"out_bias must be true or false, got {self.out_bias!r}")
        check_choice(self, "g_stem", ("deconv", "linear"))
        check_choice(self, "g_head", ("deconv", "conv3x3"))
        check_positive(self, "bn_eps")
        check_count(self, "num_classes", 0, "unconditional")
        check_tricks(self)  # refuses packing when conditional
