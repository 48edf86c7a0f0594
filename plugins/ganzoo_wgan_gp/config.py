"""WGAN-GP config with the paper's defaults (lambda 10, n_critic 5, Adam 1e-4, constant learning rate)."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive,
    check_power_of_two_size,
    check_tricks,
)


@dataclass
class WGANGPConfig(DiscriminatorTricks):  # pack, mbstd, augment, lr_d: ganzoo.config
    image_size: int = 64  # side of square images, a power of two >= 16 (ignored when dim > 0)
    channels: int = 3  # 1 = grayscale, 3 = RGB (ignored when dim > 0)
    dim: int = 0  # length of flat data vectors (2 for 2D mixtures: MLP nets); 0 = images (conv nets)
    nz: int = 128  # length of the latent vector z (paper's code: 128)
    ngf: int = 64  # conv generator width
    ndf: int = 64  # conv critic width
    critic_norm: str = "layer"  # critic normalisation: "layer" or "none"; never batch norm, which
    #                             would couple the samples that the per-sample penalty treats apart
    hidden: int = 512  # MLP width for flat data (paper's toy nets: 3 hidden layers of 512)
    depth: int = 3  # MLP hidden layers for flat data
    gp_lambda: float = 10.0  # gradient penalty weight
    n_critic: int = 5  # critic updates per generator update
    lr: float = 1e-4  # Adam learning rate for both networks
    betas: tuple = (0.5, 0.9)  # Adam betas for the DCGAN-style nets; the paper's Algorithm 1: (0.0, 0.9)
    decay_start: float = 1.0  # fraction of the run after which both learning rates fall linearly
    #                           to 0 by its end; 1.0 = constant, as in the paper (its CIFAR-10 runs decay
    #                           from the start: 0.0). Late decay steadies sample quality on 2D mixtures

    def __post_init__(self):
        check_positive(self, "nz", "lr", "n_critic", "hidden", "depth")
        check_choice(self, "critic_norm", ("layer", "none"))
        check_betas(self)
        if not isinstance(self.dim, int) or self.dim < 0:
            raise ConfigError(f"dim must be 0 (images) or a positive length, got {self.dim!r}")
        if self.dim == 0:
            check_power_of_two_size(self)
            check_channels(self)
            check_positive(self, "ngf", "ndf")
        check_fraction(self, "decay_start")
        check_non_negative(self, "gp_lambda")
        refuse = {
            "real_label": "the Wasserstein critic has scores, not targets to smooth",
            "r1": "the critic already has its gradient penalty (gp_lambda)",
        }
        if self.dim:
            refuse["augment"] = "DiffAugment ops act on images, and this run's data are flat vectors (dim > 0)"
        check_tricks(self, refuse)
        if self.augment == "ada":  # ADA's statistic, E[sign(D(real))], needs scores with a zero point
            raise ConfigError(
                "augment='ada' cannot be used here: ADA reads overfitting from the sign of D's outputs on real "
                "images, and a Wasserstein critic's have no zero point (adding a constant changes no loss); "
                "use DiffAugment ops (augment='translation,cutout')"
            )
