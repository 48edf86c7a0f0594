"""LSGAN config with the paper's defaults: 0-1 coding (a=0, b=c=1), Adam 2e-4 with beta1 0.5.

The networks are DCGAN's at DCGAN's default size (64x64 RGB, nz 100, 64 filters).
"""

from dataclasses import dataclass

from ganzoo.config import check_betas, check_channels, check_positive, check_power_of_two_size


@dataclass
class LSGANConfig:
    image_size: int = 64  # side of the square images, a power of two >= 16
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 100  # length of the latent vector z
    ngf: int = 64  # generator width: filters of its last hidden layer
    ndf: int = 64  # discriminator width: filters of its first layer
    a: float = 0.0  # target of D for generated images (paper: 0; -1 for the Pearson chi^2 coding)
    b: float = 1.0  # target of D for real images (paper: 1)
    c: float = 1.0  # value G wants D to give its images (paper: 1, = b; 0 for the chi^2 coding)
    lr: float = 2e-4  # Adam learning rate for both networks (paper: 0.0002)
    betas: tuple = (0.5, 0.999)  # Adam betas (paper: beta1 = 0.5)

    def __post_init__(self):
        check_power_of_two_size(self)
        check_channels(self)
        check_positive(self, "nz", "ngf", "ndf", "lr")
        check_betas(self)
