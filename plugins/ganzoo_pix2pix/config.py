"""pix2pix config with the paper's defaults: U-Net 256 (8 downsamplings), 70x70 PatchGAN, lambda_l1 100."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    check_betas,
    check_channels,
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive,
)

MAX_DOWNS = 8  # the paper's U-Net 256 halves 256px down to 1x1; larger images keep 8 levels
MIN_DOWNS = 3  # the three decoder layers with dropout sit above the outermost one


@dataclass
class Pix2PixConfig:
    image_size: int = 256  # side of square images; the U-Net halves it unet_downs times (paper: 256)
    channels: int = 3  # channels of both domains: 1 = grayscale, 3 = RGB
    ngf: int = 64  # U-Net width: filters of its first conv (encoder C64-C128-C256-C512...)
    ndf: int = 64  # PatchGAN width: filters of its first conv
    n_downs: int = 0  # U-Net downsamplings; 0 = the paper's rule: halve down to 1x1, at most 8 (8 at 256px, 5 at 32px)
    n_layers_d: int = 3  # stride-2 convs in the PatchGAN (3 = the paper's 70x70 receptive field)
    dropout: float = (
        0.5  # dropout in the 3 decoder layers nearest the bottleneck, the paper's only noise (training only)
    )
    norm_stats: str = "running"  # the U-Net's batch-norm statistics outside training: "running" (eval mode, the
    #                              usual protocol) or "image" (each image's own, as the authors' test.py computes:
    #                              train mode, one image per batch; the paper's "instance normalization" at test)
    lambda_l1: float = 100.0  # weight of the L1 distance between G(A) and the true B
    gan_loss: str = (
        "bce"  # "bce": the paper's cross-entropy on D's logits (non-saturating for G); "lsgan": least squares
    )
    lr: float = 2e-4  # Adam learning rate, for G and D
    betas: tuple = (0.5, 0.999)  # Adam betas
    decay_start: float = (
        0.5  # fraction of the run after which the rate decays linearly to 0 (the authors' code: 100 + 100 epochs)
    )

    def __post_init__(self):
        check_channels(self)
        check_positive(self, "ngf", "ndf", "n_layers_d", "lr")
        check_betas(self)
        check_choice(self, "gan_loss", ("bce", "lsgan"))
        check_choice(self, "norm_stats", ("running", "image"))
        check_non_negative(self, "lambda_l1", zero_means="no L1 term, the cGAN loss alone")
        check_fraction(self, "decay_start")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1) (0 = none), got {self.dropout!r}")
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ConfigError(f"image_size must be an integer >= 8 (e.g. 32, 64 or 256), got {size!r}")
        if isinstance(self.n_downs, bool) or not isinstance(self.n_downs, int) or self.n_downs < 0:
            raise ConfigError(
                f"n_downs must be >= 0 (0 = halve down to 1x1, at most {MAX_DOWNS} times), got {self.n_downs!r}"
            )
        if 0 < self.n_downs < MIN_DOWNS:
            raise ConfigError(
                f"n_downs must be >= {MIN_DOWNS} (0 = by image size), got {self.n_downs}: the U-Net's three "
                f"dropout layers sit above its outermost one"
            )
        halvings, downs = _halvings(size), self.unet_downs
        if downs > halvings:  # only an explicit n_downs can ask for more halvings than the size allows
            raise ConfigError(
                f"the U-Net cannot halve {size}px images {downs} times ({size} halves to a whole size "
                f"only {halvings} times): use an image_size that is a multiple of {2**downs}"
                + (f", or n_downs <= {halvings}" if halvings >= MIN_DOWNS else "")
            )
        if downs < MIN_DOWNS:
            raise ConfigError(
                f"the U-Net halves images at least {MIN_DOWNS} times, but {size}px halves to a whole size "
                f"only {halvings} times: use an image_size that is a multiple of {2**MIN_DOWNS} "
                f"(e.g. 32, 64 or 256)"
            )
        if size // 2**self.n_layers_d < 3:
            raise ConfigError(f"n_layers_d={self.n_layers_d} downsamples {size}px images below 3x3; use fewer layers")

    @property
    def unet_downs(self) -> int:
        """The U-Net's downsamplings: n_downs, or by the paper's rule as many halvings as the size allows, at most 8."""
        return self.n_downs or min(_halvings(self.image_size), MAX_DOWNS)


def _halvings(size: int) -> int:
    """How many times ``size`` halves to a whole number: 5 for 32, 4 for 48, 0 for an odd size."""
    count = 0
    while size > 1 and size % 2 == 0:
        size //= 2
        count += 1
    return count
