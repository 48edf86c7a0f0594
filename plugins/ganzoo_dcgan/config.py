"""DCGAN config with the paper's defaults (its reference code: 64x64, nz 100, 64 filters)."""

from dataclasses import dataclass

from ganzoo.config import check_betas, check_channels, check_positive, check_power_of_two_size


@dataclass
class DCGANConfig:
    image_size: int = 64  # side of the square images, a power of two >= 16 (paper: 64)
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 100  # length of the latent vector z
    ngf: int = 64  # generator width: filters of its last hidden layer
    ndf: int = 64  # discriminator width: filters of its first layer
    lr: float = 2e-4  # Adam learning rate for both networks
    betas: tuple = (0.5, 0.999)  # Adam betas; beta1 = 0.5 as the paper advises

    def __post_init__(self):
        check_power_of_two_size(self)
        check_channels(self)
        check_positive(self, "nz", "ngf", "ndf", "lr")
        check_betas(self)
