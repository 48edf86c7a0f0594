"""BigGAN config with the paper's defaults (Brock, Donahue, Simonyan 2019, Appendix B and C).

Zeros and -1 take the paper's value for the image size and architecture, resolved on build so
config.json names what was built: widths 96 ("resnet") and 128 ("deep") from 64x64 up, 64 at
32x32 (BigGAN-PyTorch's CIFAR-10 script); z of 120 (128x128), 140 (256x256) or 128 (512x512 and
every BigGAN-deep), split into one chunk per G block plus one for the first linear ("resnet").
"""

from dataclasses import dataclass

from ganzoo.config import (
    ADVERSARIAL_LOSSES,
    ConfigError,
    DiscriminatorTricks,
    check_betas,
    check_channels,
    check_choice,
    check_non_negative,
    check_positive,
    check_tricks,
)

SIZES = (32, 64, 128, 256, 512)
PAPER_NZ = {32: 128, 64: 120, 128: 120, 256: 140, 512: 128}  # "resnet"; BigGAN-deep's z is 128 at every size
# image_size -> G widths in units of g_ch: the linear's, then each resolution's output (4x4 up to the image)
G_WIDTHS = {
    32: (4, 4, 4, 4),
    64: (16, 16, 8, 4, 2),
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
    512: (16, 16, 8, 8, 4, 2, 1, 1),
}
# image_size -> D widths in units of d_ch, and how many of the first blocks (deep: resolutions) halve the side.
# resnet: one block per width; deep: an input conv to the first width, then two blocks per next width.
D_WIDTHS = {
    32: ((4, 4, 4, 4), 2),
    64: ((1, 2, 4, 8, 16), 4),
    128: ((1, 2, 4, 8, 16, 16), 5),
    256: ((1, 2, 4, 8, 8, 16, 16), 6),
    512: ((1, 1, 2, 4, 8, 8, 16, 16), 7),
}


@dataclass
class BigGANConfig(DiscriminatorTricks):  # pack, mbstd, augment, r1, real_label: ganzoo.config
    image_size: int = 32  # 32, 64, 128, 256 or 512: the side of the square images
    channels: int = 3  # 1 = grayscale, 3 = RGB
    arch: str = "resnet"  # "resnet" (BigGAN) or "deep" (BigGAN-deep: bottleneck blocks, two per resolution)
    nz: int = 0  # length of z; 0 = the paper's (see above)
    g_ch: int = 0  # generator width unit; 0 = the paper's (96 resnet, 128 deep; 64 at 32x32)
    d_ch: int = 0  # discriminator width unit; 0 = as g_ch
    num_classes: int = 10  # classes of the data (BigGAN is class-conditional: at least 1; ImageNet: 1000)
    shared_dim: int = 128  # the shared class embedding fed (with z) to every conditional batch norm;
    #                        0 = none: per-class gains and biases (BigGAN-PyTorch's CIFAR-10 script, resnet only)
    hier: bool = True  # resnet: z split into chunks, one per G block (with the first linear's); deep feeds all of z
    attn: int = -1  # side at which G and D have their self-attention block; -1 = the paper's 64 (at 32x32: 16,
    #                 at 64x64: 32, where D has features of that side too); 0 = none
    rgb_ch: int = 0  # outputs of G's last conv, of which the first `channels` are the image; 0 = channels
    #                  (DeepMind's BigGAN-deep computes 128 and keeps 3)
    n_stats: int = 0  # > 0: batch-norm statistics per truncation t = 0, 1/(n-1), ..., 1 (DeepMind's release: 51),
    #                   used when sampling with a truncation; 0 = the ordinary running statistics only
    bn_eps: float = 1e-5  # epsilon of G's batch norms (DeepMind's BigGAN-deep: 1e-4)
    sn_eps: float = 1e-6  # epsilon of the spectral norm's power iteration (BigGAN-PyTorch's ImageNet scripts)
    ortho: float = 1e-4  # weight beta of the orthogonal regularisation of G, beta ||W W^T * (1 - I)||_F^2
    loss: str = "hinge"  # "hinge" (the paper's) or "non-saturating" (G's -log D(G(z)) stops pulling a sample
    #                      once D calls it real; hinge's -D(G(z)) never does)
    lr: float = 5e-5  # G's Adam learning rate (the paper's)
    lr_d: float = 2e-4  # D's Adam learning rate (the paper's)
    betas: tuple = (0.0, 0.999)  # Adam betas of both (the paper's)
    n_dis: int = 2  # D updates per G update, each on its own real batch (the paper's)

    def __post_init__(self):
        if type(self.image_size) is not int or self.image_size not in SIZES:
            raise ConfigError(
                f"image_size must be one of {', '.join(map(str, SIZES))} (BigGAN's layouts), got {self.image_size!r}"
            )
        check_channels(self)
        check_choice(self, "arch", ("resnet", "deep"))
        check_choice(self, "loss", ADVERSARIAL_LOSSES)
        for name in ("nz", "g_ch", "d_ch", "shared_dim", "rgb_ch", "n_stats"):
            _check_count(self, name, 0)
        for name in ("num_classes", "n_dis"):
            _check_count(self, name, 1)
        deep = self.arch == "deep"
        self.nz = self.nz or (128 if deep else PAPER_NZ[self.image_size])
        self.g_ch = self.g_ch or (64 if self.image_size == 32 else 128 if deep else 96)
        self.d_ch = self.d_ch or self.g_ch
        self.rgb_ch = self.rgb_ch or self.channels
        if type(self.attn) is not int or self.attn < -1:
            raise ConfigError(f"attn must be -1 (the paper's), 0 (none) or a side, got {self.attn!r}")
        if self.attn == -1:
            self.attn = {32: 16, 64: 32}.get(self.image_size, 64)
        if self.attn and (self.attn < 8 or self.attn > self.image_size or self.attn & (self.attn - 1)):
            raise ConfigError(
                f"attn must be a power of two from 8 to image_size={self.image_size}, or 0, got {self.attn}"
            )
        if not isinstance(self.hier, bool):
            raise ConfigError(f"hier must be true or false, got {self.hier!r}")
        if self.shared_dim == 0 and (deep or self.hier):
            raise ConfigError(
                "shared_dim=0 (per-class batch-norm gains) needs arch=resnet and hier=false: a "
                "hierarchical or deep G feeds its batch norms z with the shared class embedding"
            )
        slots = self.image_size.bit_length() - 2  # G blocks (4x4 -> image_size) + the first linear
        if self.hier and not deep and self.nz % slots:
            raise ConfigError(
                f"nz={self.nz} must split into {slots} equal chunks (one per G block and one for the "
                f"first linear at image_size={self.image_size}): use e.g. nz={slots * 20}"
            )
        if self.rgb_ch < self.channels:
            raise ConfigError(f"rgb_ch={self.rgb_ch} must be at least channels={self.channels}")
        _check_widths(self)
        if self.n_stats == 1:
            raise ConfigError("n_stats must be 0 (none) or at least 2 (statistics at t = 0 and t = 1)")
        check_positive(self, "lr", "lr_d", "bn_eps", "sn_eps")
        check_non_negative(self, "ortho")
        check_betas(self)
        refuse = {"pack": "a packed D input would mix samples of different labels"}
        if self.loss == "hinge":
            refuse["real_label"] = "the hinge loss has margins, not targets to smooth; use loss=non-saturating"
        check_tricks(self, refuse)


def _check_count(config: BigGANConfig, name: str, minimum: int) -> None:
    """A whole number >= ``minimum``: a width, a class count, a number of updates."""
    value = getattr(config, name)
    if type(value) is not int or value < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _check_widths(config: BigGANConfig) -> None:
    """Attention keeps 1/8 of its channels and a deep block 1/4: the widths must leave at least one."""
    deep = config.arch == "deep"
    g_widths = G_WIDTHS[config.image_size]
    for net, unit, widths, sides in (
        ("g_ch", config.g_ch, g_widths, [4 * 2**i for i in range(len(g_widths))]),
        ("d_ch", config.d_ch, D_WIDTHS[config.image_size][0], _d_sides(config)),
    ):
        at = [unit * w for w, side in zip(widths, sides) if side == config.attn][:1]
        if at and at[0] < 8:
            raise ConfigError(
                f"{net}={unit} gives the attention block at {config.attn}x{config.attn} {at[0]} "
                f"channels; it needs 8 at least (it keeps 1/8 of them): widen {net} or set attn=0"
            )
        if deep and unit * min(widths) < 4:
            raise ConfigError(
                f"{net}={unit} gives a deep block {unit * min(widths)} channels; it needs 4 at least "
                f"(its bottleneck keeps 1/4 of them)"
            )


def _d_sides(config: BigGANConfig) -> list[int]:
    """The side of D's features after each width of D_WIDTHS (deep: the input conv's, then each resolution's)."""
    widths, n_down = D_WIDTHS[config.image_size]
    if config.arch == "deep":
        return [0] + [config.image_size >> min(i + 1, n_down) for i in range(len(widths) - 1)]  # 0: the input conv
    return [config.image_size >> min(i + 1, n_down) for i in range(len(widths))]
