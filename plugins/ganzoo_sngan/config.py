"""SN-GAN config with the papers' CIFAR-10 defaults (Miyato et al. 2018; Miyato & Koyama 2018's code).

Widths left at 0 take the papers' values for the image size, so a 64x64 run is not built with
CIFAR-10's widths: the 32x32 nets keep one width throughout, the 48x48 and 64x64 nets double it
per block from a base of 64.
"""

from dataclasses import dataclass

from ganzoo.config import (
    ADVERSARIAL_LOSSES,
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_count,
    check_fraction,
    check_positive,
    check_tricks,
)

SIZES = (32, 48, 64)  # the papers' ResNets: CIFAR-10 32x32, STL-10 48x48, ImageNet 64x64
PAPER_WIDTHS = {32: (256, 128), 48: (64, 64), 64: (64, 64)}  # image_size -> (g_ch, d_ch)


@dataclass
class SNGANConfig(DiscriminatorTricks):  # pack, mbstd, augment, r1, real_label, lr_d: ganzoo.config
    image_size: int = 32  # 32, 48 or 64: the side of the square images
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 128  # length of the latent vector z
    g_ch: int = 0  # generator width; 0 = the papers': 256 in every block at 32x32; at 48 and 64 a
    #                base of 64 (blocks 512-256-128-64 at 48, 1024-512-256-128-64 at 64)
    d_ch: int = 0  # discriminator width; 0 = the papers': 128 in every block at 32x32; at 48 and 64
    #                a base of 64 (blocks 64-128-256-512-1024)
    num_classes: int = 10  # > 0: class-conditional (CBN in G, projection in D), with the data's number
    #                        of classes (the papers' CIFAR-10: 10); 0 = unconditional
    loss: str = "hinge"  # "hinge" (the papers' ResNets) or "non-saturating" (the BCE of the comparisons)
    lr: float = 2e-4  # Adam learning rate for both networks
    betas: tuple = (0.0, 0.9)  # Adam betas (the papers' ResNet setting)
    n_dis: int = 5  # D updates per G update, each on its own real batch
    g_batch_factor: int = 2  # G's update draws this many times the real batch of fakes (reference
    #                          CIFAR-10 code: 128 for a batch of 64)
    decay_start: float = 0.0  # fraction of the run after which both learning rates fall linearly
    #                           to 0 by its end; 0.0 = from the start, as the reference CIFAR-10 code
    bn_eps: float = 1e-5  # epsilon of G's batch norms (StudioGAN's nets use 1e-4)

    def __post_init__(self):
        if type(self.image_size) is not int or self.image_size not in SIZES:
            raise ConfigError(
                f"image_size must be 32, 48 or 64 (the papers' ResNets for CIFAR-10, STL-10 and "
                f"ImageNet 64x64), got {self.image_size!r}"
            )
        check_channels(self)
        g_ch, d_ch = PAPER_WIDTHS[self.image_size]
        for name, paper in (("g_ch", g_ch), ("d_ch", d_ch)):
            check_count(self, name, 0, "the papers' width for image_size")
            if getattr(self, name) == 0:
                setattr(self, name, paper)  # recorded as resolved, so config.json names the width built
        check_count(self, "num_classes", 0, "unconditional")
        check_choice(self, "loss", ADVERSARIAL_LOSSES)
        for name in ("nz", "n_dis", "g_batch_factor"):
            check_count(self, name)
        check_positive(self, "lr")
        check_betas(self)
        check_fraction(self, "decay_start")
        check_positive(self, "bn_eps")
        refuse = {}  # and packing, when conditional (check_tricks)
        if self.loss == "hinge":
            refuse["real_label"] = "the hinge loss has margins, not targets to smooth; use loss=non-saturating"
        check_tricks(self, refuse)
