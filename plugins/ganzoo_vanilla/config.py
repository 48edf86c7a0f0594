"""Vanilla GAN config. The paper's MNIST nets were MLPs with dropout in D; the optimizer here is
Adam (2e-4, beta1 0.5) rather than the paper's SGD with momentum, as practice since DCGAN does."""

from dataclasses import dataclass

from ganzoo.config import (
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_fraction,
    check_positive,
    check_tricks,
)


@dataclass
class VanillaConfig(DiscriminatorTricks):  # pack, mbstd, augment, r1, real_label, lr_d: ganzoo.config
    image_size: int = 28  # side of square images (ignored when dim > 0); paper: 28x28 MNIST
    channels: int = 1  # 1 = grayscale, 3 = RGB (ignored when dim > 0)
    dim: int = 0  # length of flat data vectors, e.g. 2 for 2D mixtures; 0 = images
    nz: int = 100  # length of the latent vector z
    g_hidden: tuple = (256, 512, 1024)  # generator hidden layer widths
    d_hidden: tuple = (1024, 512, 256)  # discriminator hidden layer widths
    dropout: float = 0.3  # dropout between discriminator layers (the paper used dropout in D)
    g_norm: str = "none"  # "batch": batch norm in G's hidden layers, which DCGAN found keeps G from
    #                       collapsing to a few outputs; "none" as in the paper
    loss: str = "non-saturating"  # generator loss: "non-saturating" (-log D(G(z))) or "minimax"
    lr: float = 2e-4  # Adam learning rate for both networks
    betas: tuple = (0.5, 0.999)  # Adam betas
    decay_start: float = 1.0  # fraction of the run after which both learning rates fall linearly to 0
    #                           by its end; 1.0 = constant, as in the paper. On 2D mixtures a constant
    #                           rate leaves G hopping between modes; decay lets it settle on some

    def __post_init__(self):
        check_positive(self, "nz", "lr")
        check_choice(self, "loss", ("non-saturating", "minimax"))
        check_choice(self, "g_norm", ("none", "batch"))
        check_betas(self)
        if not isinstance(self.dim, int) or self.dim < 0:
            raise ConfigError(f"dim must be 0 (images) or a positive length, got {self.dim!r}")
        if self.dim == 0:
            check_channels(self)
            check_positive(self, "image_size")
        check_fraction(self, "decay_start")
        check_tricks(
            self,
            {"augment": "DiffAugment ops act on images, and this run's data are flat vectors (dim > 0)"}
            if self.dim
            else {},
        )
        if not (0 <= self.dropout < 1):
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("g_hidden", "d_hidden"):
            widths = getattr(self, name)
            if (
                not isinstance(widths, (tuple, list))
                or not widths
                or not all(isinstance(w, int) and w > 0 for w in widths)
            ):
                raise ConfigError(f"{name} must be a non-empty list of positive widths, got {widths!r}")

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (self.dim,) if self.dim else (self.channels, self.image_size, self.image_size)
