"""CycleGAN config with the paper's defaults (256px, 9 ResNet blocks, lambda 10, pool of 50).

Below 128px the defaults are for small images (docs/translation.md#cyclegan): widths image_size / 4
(8 at 32px: about 1/60 of the arithmetic of width 64, and enough to keep the digit on mnist-5k
tasks) and no identity loss, which asks G_AB(b) == b and so fights any translation that moves
pixels (a digit moved 4 px kept its label 24% of the time with it, 90% without). From 128px on
they are the paper's. config.json stores the resolved values, so a saved run keeps its networks
and losses whatever these rules become.
"""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    check_betas,
    check_channels,
    check_fraction,
    check_non_negative,
    check_positive,
)

SMALL = 128  # image sizes below this get the small-image defaults; from here on the paper's


@dataclass
class CycleGANConfig:
    image_size: int = 256  # side of square images, a multiple of 4 and >= 32 (paper: 256)
    channels: int = 3  # channels of both domains: 1 = grayscale, 3 = RGB
    ngf: int = 0  # generator width: filters of its first conv; 0 = by size: 64 at >= 128px, size / 4 below (8 at 32px)
    ndf: int = 0  # PatchGAN width: filters of its first conv; 0 = the same rule as ngf
    n_blocks: int = 0  # ResNet blocks in each generator; 0 = the paper's rule: 9 at >= 256px, else 6
    n_layers_d: int = 3  # stride-2 convs in the PatchGAN (3 = the 70x70 receptive field; at 32px a 2x2
    #                      map of scores that each see the whole image, so D judges the whole digit,
    #                      where 1 layer would judge 16x16 patches: docs/translation.md#cyclegan)
    lambda_cycle: float = 10.0  # weight of the cycle-consistency L1 losses
    lambda_identity: float = -1.0  # identity L1 weight as a fraction of lambda_cycle; -1 = by size:
    #                                0.5 at >= 128px, 0 below
    pool_size: int = 50  # image pool of past fakes shown to the discriminators (0 = off)
    lr: float = 2e-4  # Adam learning rate
    betas: tuple = (0.5, 0.999)  # Adam betas
    decay_start: float = 0.5  # fraction of the run after which the learning rate decays linearly to 0
    one_way: bool = False  # build G_AB alone (and D_B): a translator one way, as the authors' released files are;
    #                        such a model translates and is never trained (the cycle needs both generators)

    def __post_init__(self):
        check_channels(self)
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 4:
            raise ConfigError(f"image_size must be a multiple of 4 and >= 32 (e.g. 32, 128 or 256), got {size!r}")
        for name in ("ngf", "ndf"):  # 0 = the size rule, resolved here so config.json records the width
            if getattr(self, name) == 0 and not isinstance(getattr(self, name), bool):
                setattr(self, name, width_for_size(size))
        if self.lambda_identity == -1:
            self.lambda_identity = 0.5 if size >= SMALL else 0.0
        elif isinstance(self.lambda_identity, (int, float)) and self.lambda_identity < 0:
            raise ConfigError(
                f"lambda_identity must be >= 0 (0 = no identity loss) or -1 (by image size), "
                f"got {self.lambda_identity!r}"
            )
        check_positive(self, "ngf", "ndf", "n_layers_d", "lr")
        check_betas(self)
        if not isinstance(self.n_blocks, int) or self.n_blocks < 0:
            raise ConfigError(f"n_blocks must be >= 0 (0 = 9 at 256px and above, 6 below), got {self.n_blocks!r}")
        if size // 2**self.n_layers_d < 3:
            raise ConfigError(f"n_layers_d={self.n_layers_d} downsamples {size}px images below 3x3; use fewer layers")
        for name in ("lambda_cycle", "lambda_identity", "pool_size"):
            check_non_negative(self, name)
        check_fraction(self, "decay_start")
        if not isinstance(self.one_way, bool):
            raise ConfigError(f"one_way must be true or false, got {self.one_way!r}")

    @property
    def resnet_blocks(self) -> int:
        """9 at >= 256px, else 6; this rule stays as it is, since config.json files store n_blocks 0."""
        return self.n_blocks or (9 if self.image_size >= 256 else 6)


def width_for_size(image_size: int) -> int:
    """Default ngf and ndf: the paper's 64 at 128px and above, image_size / 4 below (8 at 32px, 16 at 64px)."""
    return 64 if image_size >= SMALL else max(8, image_size // 4)
