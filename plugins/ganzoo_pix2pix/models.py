"""pix2pix networks: the U-Net generator and the conditional PatchGAN of the paper.

The U-Net is the paper's encoder-decoder with skips: encoder C64-C128-C256-C512-C512-C512-C512-C512,
decoder CD512-CD512-CD512-C512-C256-C128-C64 at 256px (Ck: 4x4 conv, batch norm, leaky ReLU 0.2
down / ReLU up; D: dropout 0.5), each decoder layer fed the mirror encoder layer's output as well.
There is no norm on the first and innermost convs; N(0, 0.02) init. At 256px with 3 channels the
U-Net has 54,413,955 parameters and the 70x70 PatchGAN on (A, B) 2,768,705, giving 30x30 scores.
With ``norm_stats="image"`` the U-Net's batch norms normalise each image by its own statistics outside
training, as the authors' test.py runs their released generators (docs/translation.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.networks import PatchDiscriminator, dcgan_init

from .config import Pix2PixConfig


class ImageStatsBatchNorm(nn.BatchNorm2d):
    """Batch norm in training; outside it, each image normalised by its own mean and variance, then the learned
    scale and shift: what train-mode batch norm computes on a batch of one image. The same tensors as BatchNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> same
        if self.training:
            return super().forward(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


class UnetLevel(nn.Module):
    """One level of the U-Net: (B, outer, H, W) -> down to (B, inner, H/2, W/2) -> the levels inside -> up,
    and the input concatenated beside the result (the skip): (B, 2 * outer, H, W); the outermost level
    maps images to images and has no skip."""

    def __init__(
        self,
        outer: int,
        inner: int,
        inside: nn.Module | None,
        *,
        image_channels: int = 0,
        dropout: float = 0.0,
        norm: type[nn.BatchNorm2d] = nn.BatchNorm2d,
    ):
        super().__init__()
        self.outermost = image_channels > 0
        up_in = inner if inside is None else inner * 2  # the innermost level has no skip below it
        if self.outermost:  # image (B, C, H, W) -> ngf features, no norm; back to C channels, tanh
            down: list[nn.Module] = [nn.Conv2d(image_channels, inner, 4, 2, 1, bias=False)]
            up: list[nn.Module] = [nn.ReLU(True), nn.ConvTranspose2d(up_in, image_channels, 4, 2, 1), nn.Tanh()]
        else:
            down = [nn.LeakyReLU(0.2), nn.Conv2d(outer, inner, 4, 2, 1, bias=False)]
            if inside is not None:  # the innermost conv (1x1 output at the paper's depth) has no norm
                down.append(norm(inner))
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False), norm(outer)]
            if dropout:
                up.append(nn.Dropout(dropout))
        self.down, self.inside, self.up = nn.Sequential(*down), inside or nn.Identity(), nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.inside(self.down(x)))  # (B, outer, H, W), or (B, C, H, W) at the outermost level
        return y if self.outermost else torch.cat([x, y], 1)  # (B, 2 * outer, H, W)


class UnetGenerator(nn.Module):
    """U-Net: (B, C, S, S) -> (B, C, S, S) in [-1, 1] through ``n_downs`` stride-2 levels (S / 2^n_downs at the
    bottleneck); widths ngf * 2^k, at most ngf * 8; dropout in the 3 decoder layers nearest the bottleneck;
    ``norm_stats`` "image": batch norms use each image's own statistics outside training."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_downs: int = 8,
        dropout: float = 0.5,
        norm_stats: str = "running",
    ):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f"the U-Net maps C channels to C channels, got {in_channels} in and {out_channels} out")
        widths = [ngf * min(2**k, 8) for k in range(n_downs)]  # output of encoder layer k
        norm = ImageStatsBatchNorm if norm_stats == "image" else nn.BatchNorm2d
        level: nn.Module | None = None
        for k in range(n_downs - 1, 0, -1):  # innermost first; level k maps widths[k - 1] <-> widths[k]
            level = UnetLevel(widths[k - 1], widths[k], level, dropout=dropout if k >= n_downs - 3 else 0.0, norm=norm)
        self.main = UnetLevel(in_channels, widths[0], level, image_channels=in_channels)
        self.n_downs = n_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) -> (B, C, S, S)
        if x.shape[-1] % 2**self.n_downs or x.shape[-2] % 2**self.n_downs:
            raise ValueError(
                f"this U-Net halves images {self.n_downs} times: their sides must be multiples of "
                f"{2**self.n_downs}, got {tuple(x.shape[-2:])}"
            )
        return self.main(x)


class PairDiscriminator(nn.Module):
    """The conditional PatchGAN: D(a, b) scores whether b is a real translation of a, seeing both
    concatenated along channels: (B, C, H, W) x 2 -> (B, 2C, H, W) -> (B, 1, h, w) logits."""

    def __init__(self, channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        self.patch = PatchDiscriminator(2 * channels, ndf, n_layers, norm="batch")

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.patch(torch.cat([a, b], 1))


def build(config: Pix2PixConfig) -> dict[str, nn.Module]:
    c = config.channels
    nets = {
        "G_AB": UnetGenerator(c, c, config.ngf, config.unet_downs, config.dropout, config.norm_stats),
        "D": PairDiscriminator(c, config.ndf, config.n_layers_d),
    }
    for net in nets.values():
        dcgan_init(net)  # conv weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0: the paper's init
    return nets
