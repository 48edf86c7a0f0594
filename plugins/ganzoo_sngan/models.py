"""SN-GAN ResNets (Miyato et al. 2018) with the projection discriminator (Miyato & Koyama 2018).

G: linear to a small square, up-sampling residual blocks with batch norm (class-conditional when
there are classes), BN + ReLU, a conv to the image, tanh. D: residual blocks, the first one
"optimized" (no ReLU before its first conv, the shortcut pooled before its 1x1 conv), ReLU, global
sum pooling, a linear score plus the projection <embed(y), h> when there are classes. Every D layer
is spectrally normalised. Labels y (B,) int64 are passed exactly when ``num_classes > 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import tricks
from ganzoo.config import check_labels
from ganzoo.networks import ConditionalBatchNorm2d, MinibatchStd

from .config import SNGANConfig

# image_size -> (G's first side, G widths in units of g_ch: the linear's, then each up-block's,
#                D widths in units of d_ch: one per block, and whether each D block halves the side)
LAYOUTS = {
    32: (4, (1, 1, 1, 1), (1, 1, 1, 1), (True, True, False, False)),  # SN-GAN's CIFAR-10 nets
    48: (6, (8, 4, 2, 1), (1, 2, 4, 8, 16), (True, True, True, True, False)),  # SN-GAN's STL-10 nets
    64: (4, (16, 8, 4, 2, 1), (1, 2, 4, 8, 16), (True, True, True, True, True)),  # projection's 64x64 nets
}


def _init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """The reference code's init: Glorot-uniform weights (gain sqrt 2 inside residual paths), zero biases."""
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _sn(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    return spectral_norm(_init(layer, gain))  # W / sigma(W), sigma by one power iteration per training forward


class GBlock(nn.Module):
    """BN-ReLU-upsample-conv-BN-ReLU-conv, plus a 1x1 conv of the upsampled input: doubles the side."""

    def __init__(self, cin: int, cout: int, num_classes: int, eps: float = 1e-5):
        super().__init__()
        norm = (
            (lambda c: ConditionalBatchNorm2d(c, num_classes, eps))
            if num_classes
            else (lambda c: nn.BatchNorm2d(c, eps=eps))
        )
        self.b1, self.b2 = norm(cin), norm(cout)
        self.c1 = _init(nn.Conv2d(cin, cout, 3, padding=1), math.sqrt(2))
        self.c2 = _init(nn.Conv2d(cout, cout, 3, padding=1), math.sqrt(2))
        self.c_sc = _init(nn.Conv2d(cin, cout, 1))
        self.conditional = num_classes > 0

    def _norm(self, bn: nn.Module, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return bn(h, y) if self.conditional else bn(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:  # (B, Cin, S, S) -> (B, Cout, 2S, 2S)
        h = F.interpolate(F.relu(self._norm(self.b1, x, y)), scale_factor=2)  # nearest neighbour
        h = self.c2(F.relu(self._norm(self.b2, self.c1(h), y)))
        return h + F.interpolate(self.c_sc(x), scale_factor=2)  # a 1x1 conv commutes with the upsampling


class DBlock(nn.Module):
    """ReLU-conv-ReLU-conv (then 2x2 average pooling), plus a shortcut (a 1x1 conv when the shape changes).

    ``first``: the optimized block that meets the image: no ReLU in front, its first conv already
    at the block's width.
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        hidden = cout if first else cin
        self.c1 = _sn(nn.Conv2d(cin, hidden, 3, padding=1), math.sqrt(2))
        self.c2 = _sn(nn.Conv2d(hidden, cout, 3, padding=1), math.sqrt(2))
        self.c_sc = _sn(nn.Conv2d(cin, cout, 1)) if first or down or cin != cout else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, S, S) -> (B, Cout, S/2 or S, ...)
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        skip = x
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)  # pooling before the 1x1 conv: the same, cheaper
        return h + (self.c_sc(skip) if self.c_sc is not None else skip)


class Generator(nn.Module):
    """z (B, nz) [and labels y (B,)] -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, nz: int, g_ch: int, channels: int, image_size: int, num_classes: int = 0, bn_eps: float = 1e-5):
        super().__init__()
        side, mults, _, _ = LAYOUTS[image_size]
        widths = [g_ch * m for m in mults]
        self.linear = _init(nn.Linear(nz, side * side * widths[0]))
        self.blocks = nn.ModuleList(GBlock(a, b, num_classes, bn_eps) for a, b in zip(widths[:-1], widths[1:]))
        self.bn = nn.BatchNorm2d(widths[-1], eps=bn_eps)  # unconditional, as in the reference
        self.conv = _init(nn.Conv2d(widths[-1], channels, 3, padding=1))
        self.side = side
        self.latent_shape = (nz,)
        self.num_classes = num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, z.shape[0], y)
        h = self.linear(z).view(z.shape[0], -1, self.side, self.side)  # (B, C0, s, s)
        for block in self.blocks:
            h = block(h, y)  # (B, Ci, 2s, 2s) ...
        return torch.tanh(self.conv(F.relu(self.bn(h))))  # (B, C, S, S)


class Discriminator(nn.Module):
    """Image (B, C, S, S) [and labels y (B,)] -> one logit per image (B,)."""

    def __init__(self, channels: int, d_ch: int, image_size: int, num_classes: int = 0, mbstd: int = 0):
        super().__init__()
        _, _, mults, downs = LAYOUTS[image_size]
        widths = [channels] + [d_ch * m for m in mults]
        self.blocks = nn.Sequential(
            *(DBlock(a, b, down, first=i == 0) for i, (a, b, down) in enumerate(zip(widths[:-1], widths[1:], downs)))
        )
        self.mbstd = MinibatchStd(mbstd) if mbstd else None  # the last features' spread over a group, one more channel
        top = widths[-1] + (mbstd > 0)
        self.linear = _sn(nn.Linear(top, 1, bias=False))  # no bias, as the reference's 32x32 D
        self.embed = _sn(nn.Embedding(num_classes, top)) if num_classes else None  # the projection's V
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, x.shape[0], y)
        h = self.blocks(x)  # (B, C', s, s)
        if self.mbstd is not None:
            h = self.mbstd(h)  # (B, C' + 1, s, s)
        h = F.relu(h).sum(dim=(2, 3))  # (B, C') global sum pooling
        out = self.linear(h).squeeze(1)  # (B,)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(dim=1)  # projection: <V y, h>
        return out


def build(config: SNGANConfig) -> dict[str, nn.Module]:
    G = Generator(config.nz, config.g_ch, config.channels, config.image_size, config.num_classes, config.bn_eps)
    D = Discriminator(
        tricks.d_in_channels(config, config.channels), config.d_ch, config.image_size, config.num_classes, config.mbstd
    )
    return {"G": G, "D": tricks.apply(D, config)}
