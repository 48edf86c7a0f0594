"""CycleGAN config with the paper's defaults (256px, 9 ResNet blocks, lambda 10, pool of 50)."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    check_betas,
    check_channels,
    check_fraction,
    check_non_negative,
    check_positive,
)


@dataclass
class CycleGANConfig:
    image_size: int = 256  # side of square images, a multiple of 4 and >= 32 (paper: 256)
    channels: int = 3  # channels of both domains: 1 = grayscale, 3 = RGB
    ngf: int = 64  # generator width: filters of its first conv
    ndf: int = 64  # PatchGAN width: filters of its first conv
    n_blocks: int = 0  # ResNet blocks in each generator; 0 = the paper's rule: 9 at >= 256px, else 6
    n_layers_d: int = 3  # stride-2 convs in the PatchGAN (3 = the 70x70 receptive field)
    lambda_cycle: float = 10.0  # weight of the cycle-consistency L1 losses
    lambda_identity: float = 0.5  # identity L1 weight, as a fraction of lambda_cycle
    pool_size: int = 50  # image pool of past fakes shown to the discriminators (0 = off)
    lr: float = 2e-4  # Adam learning rate
    betas: tuple = (0.5, 0.999)  # Adam betas
    decay_start: float = 0.5  # fraction of the run after which the learning rate decays linearly to 0

    def __post_init__(self):
        check_channels(self)
        check_positive(self, "ngf", "ndf", "n_layers_d", "lr")
        check_betas(self)
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 4:
            raise ConfigError(f"image_size must be a multiple of 4 and >= 32 (e.g. 32, 128 or 256), got {size!r}")
        if not isinstance(self.n_blocks, int) or self.n_blocks < 0:
            raise ConfigError(f"n_blocks must be >= 0 (0 = 9 at 256px and above, 6 below), got {self.n_blocks!r}")
        if size // 2 ** self.n_layers_d < 3:
            raise ConfigError(f"n_layers_d={self.n_layers_d} downsamples {size}px images below 3x3; use fewer layers")
        for name in ("lambda_cycle", "lambda_identity", "pool_size"):
            check_non_negative(self, name)
        check_fraction(self, "decay_start")

    @property
    def resnet_blocks(self) -> int:
        return self.n_blocks or (9 if self.image_size >= 256 else 6)
