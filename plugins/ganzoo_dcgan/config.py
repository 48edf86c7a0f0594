"""DCGAN config with the paper's defaults (its reference code: 64x64, nz 100, 64 filters)."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    check_augment,
    check_betas,
    check_channels,
    check_fraction,
    check_non_negative,
    check_positive,
    check_power_of_two_size,
)


@dataclass
class DCGANConfig:
    image_size: int = 64  # side of the square images, a power of two >= 16 (paper: 64)
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 100  # length of the latent vector z
    ngf: int = 64  # generator width: filters of its last hidden layer
    ndf: int = 64  # discriminator width: filters of its first layer
    lr: float = 2e-4  # Adam learning rate for both networks
    lr_d: float = 0.0  # D's own learning rate when > 0 (two time-scale updates, Heusel et al. 2017)
    betas: tuple = (0.5, 0.999)  # Adam betas; beta1 = 0.5 as the paper advises
    real_label: float = 1.0  # D's target for real images; 0.9 = one-sided label smoothing
    #                          (Salimans et al. 2016), which keeps D from growing over-confident
    decay_start: float = 1.0  # fraction of the run after which both learning rates fall linearly
    #                           to 0 by its end; 1.0 = constant, as in the paper
    augment: str = ""  # DiffAugment ops on D's inputs, e.g. "translation,cutout"; "" = none (paper)
    r1: float = 0.0  # weight gamma of the R1 penalty gamma/2 * ||grad D(x)||^2 on real images
    #                  (Mescheder et al. 2018); 0 = none (paper)
    out_bias: bool = False  # a bias on G's output layer (mmagic's DCGAN has one); False = as ganzoo trains it

    def __post_init__(self):
        check_power_of_two_size(self)
        check_channels(self)
        check_positive(self, "nz", "ngf", "ndf", "lr")
        check_non_negative(self, "lr_d", "the same as lr")
        check_betas(self)
        if not 0.5 < self.real_label <= 1:
            raise ConfigError(f"real_label must be in (0.5, 1] (1 = no smoothing), got {self.real_label!r}")
        check_augment(self)
        check_fraction(self, "decay_start")
        check_non_negative(self, "r1", "no penalty")
        if type(self.out_bias) is not bool:
            raise ConfigError(f"out_bias must be true or false, got {self.out_bias!r}")
