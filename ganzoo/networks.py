"""Network building blocks shared by variants: the DCGAN-style conv nets, MLPs and the PatchGAN.

Plugins build their generators and discriminators from these (or bring their own). A generator
exposes ``latent_shape`` so that a model can draw its noise without knowing the architecture, and
``num_classes`` (0: unconditional); a class-conditional net takes labels y (B,) int64 as its second input
(ConditionalConvGenerator, ProjectionConvDiscriminator).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .config import check_labels


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's init: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _norm2d(norm: str, channels: int, eps: float = 1e-5) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels, eps=eps)
    if norm == "layer":  # layer norm over (C, H, W) of each sample, per-channel affine
        return nn.GroupNorm(1, channels, eps=eps)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer' or 'none', got {norm!r}")


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine; a per-class gain (initialised to 1) and bias (to 0) instead."""

    def __init__(self, channels: int, num_classes: int, eps: float = 1e-5):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=eps, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # (B, C, H, W), (B,) -> (B, C, H, W)
        return self.gain(y)[:, :, None, None] * self.bn(x) + self.bias(y)[:, :, None, None]


class ConvGenerator(nn.Module):
    """DCGAN generator: z (B, nz, 1, 1) -> 4x4 -> ... -> image (B, C, S, S) in [-1, 1].

    Each stride-2 transposed conv doubles the size; channel width halves from ngf * S/8 down to
    ngf. At S=64, nz=100, ngf=64, C=3 this is the 3,576,704-parameter net of the paper's code.
    ``stem="linear"`` makes the 4x4 map with a linear layer (bias, no norm or activation) and
    ``head="conv3x3"`` doubles up to S in normed layers, then maps to the image with a 3x3 conv
    (widths ngf * S/4 ... ngf): StudioGAN's DCGAN. ``bn_eps`` is the batch norms' epsilon.
    ``norm_layer(channels)``, when given, builds its norms instead (ConditionalConvGenerator's cBN).
    """

    num_classes = 0  # unconditional: forward takes z only

    def __init__(
        self,
        nz: int = 100,
        ngf: int = 64,
        channels: int = 3,
        image_size: int = 64,
        norm: str = "batch",
        out_bias: bool | None = None,
        stem: str = "deconv",
        head: str = "deconv",
        bn_eps: float = 1e-5,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__()
        norm2d = norm_layer or (lambda channels: _norm2d(norm, channels, bn_eps))
        n_up = int(math.log2(image_size)) - 2  # stride-2 layers after the first 4x4 projection
        n_mid = n_up if head == "conv3x3" else n_up - 1  # those followed by a norm
        bias = norm != "batch"
        width = ngf * 2**n_mid
        if stem == "linear":  # (B, nz, 1, 1) -> (B, nz) -> (B, width * 16) -> (B, width, 4, 4)
            layers: list[nn.Module] = [nn.Flatten(), nn.Linear(nz, width * 16), nn.Unflatten(1, (width, 4, 4))]
        else:
            layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=bias), norm2d(width), nn.ReLU(True)]
        for _ in range(n_mid):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=bias),
                norm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        out_bias = bias if out_bias is None else out_bias  # the output layer has no norm after it to absorb a bias
        out = (
            nn.Conv2d(width, channels, 3, 1, 1, bias=out_bias)
            if head == "conv3x3"
            else nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=out_bias)
        )
        self.main = nn.Sequential(*layers, out, nn.Tanh())
        self.latent_shape = (nz, 1, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, C, S, S)
        check_labels(self, z.shape[0], y)
        if y is None:
            return self.main(z)
        h = z
        for layer in self.main:
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class ConditionalConvGenerator(ConvGenerator):
    """ConvGenerator whose batch norms take a per-class gain and bias (StudioGAN's conditional DCGAN, cBN):
    z (B, nz, 1, 1) and labels y (B,) -> image (B, C, S, S)."""

    def __init__(self, num_classes: int, nz: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64,
                 bn_eps: float = 1e-5, **kwargs: Any):  # fmt: skip
        cbn = functools.partial(ConditionalBatchNorm2d, num_classes=num_classes, eps=bn_eps)
        super().__init__(nz, ngf, channels, image_size, norm="batch", bn_eps=bn_eps, norm_layer=cbn, **kwargs)
        self.num_classes = num_classes


class MinibatchStd(nn.Module):
    """Appends the standard deviation across groups of samples as ``features`` extra channels (Karras et al. 2018).

    A collapsed generator's batch has near-zero spread, which real batches do not; D sees it here.
    Works on feature maps (B, C, H, W) and on flat features (B, C) alike.
    """

    def __init__(self, group: int = 4, features: int = 1):
        super().__init__()
        self.group, self.features = group, features

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C + F, H, W); (B, C) -> (B, C + F)
        flat = x.dim() == 2
        if flat:
            x = x[:, :, None, None]
        b, c, h, w = x.shape
        g = math.gcd(min(self.group, b), b)  # a group size that divides the batch
        f = self.features
        y = x.reshape(g, -1, f, c // f, h, w)  # (G, n, F, c, H, W): sample i joins group i % n
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # (n, F, c, H, W)
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # (B, F, H, W)
        out = torch.cat([x, y], dim=1)
        return out.flatten(1) if flat else out


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator: image (B, C, S, S) -> one logit per image (B,).

    Stride-2 convs halve the size down to 4x4, then a 4x4 conv gives the score. The first layer
    has no norm, as in the paper. ``norm="layer"`` or ``"none"`` gives the WGAN-GP critic, whose
    gradient penalty is per sample and so must not mix samples through batch norm. The output is
    a logit (no sigmoid), so losses use the numerically stable ``*_with_logits`` forms.
    """

    num_classes = 0  # unconditional: forward takes x only

    def __init__(self, channels: int = 3, ndf: int = 64, image_size: int = 64, norm: str = "batch", mbstd: int = 0):
        super().__init__()
        n_down = int(math.log2(image_size)) - 2
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=bias),
                _norm2d(norm, width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        if mbstd:  # the 4x4 features, plus their spread over a group of samples
            layers.append(MinibatchStd(mbstd))
        self.features = width + (mbstd > 0)  # channels of the 4x4 map the last conv scores
        layers += [nn.Conv2d(self.features, 1, 4, 1, 0, bias=bias)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # (B, C, S, S) -> (B,)
        check_labels(self, x.shape[0], y)
        return self.main(x).flatten()


class ProjectionConvDiscriminator(ConvDiscriminator):
    """ConvDiscriminator with the projection (Miyato & Koyama 2018): image x (B, C, S, S) and labels y (B,) -> the
    score plus <V y, h>, h the 4x4 features summed over space (StudioGAN's conditional DCGAN, PD)."""

    def __init__(self, num_classes: int, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.embed = nn.Embedding(num_classes, self.features)  # the projection's V
        nn.init.normal_(self.embed.weight, 0.0, 0.02)  # the scale of the paper's conv init
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # (B, C, S, S) -> (B,)
        check_labels(self, x.shape[0], y)
        *body, head = self.main
        h = x
        for layer in body:
            h = layer(h)  # (B, W, 4, 4) at the end
        return head(h).flatten() + (self.embed(y) * h.sum(dim=(2, 3))).sum(dim=1)  # score + projection <V y, h>


def mlp(sizes: tuple[int, ...], activation: str = "relu", dropout: float = 0.0, norm: str = "none") -> nn.Sequential:
    """Linear layers of the given sizes with an activation (after batch norm, before dropout) between them."""
    act = {"relu": lambda: nn.ReLU(True), "leaky_relu": lambda: nn.LeakyReLU(0.2, True)}[activation]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        layers.append(nn.Linear(a, b, bias=not (hidden and norm == "batch")))
        if hidden:
            if norm == "batch":
                layers.append(nn.BatchNorm1d(b))
            layers.append(act())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, nz) -> data of ``out_shape``: (B, D) points or (B, C, H, W) images in [-1, 1]."""

    def __init__(
        self,
        nz: int,
        hidden: tuple[int, ...],
        out_shape: tuple[int, ...],
        activation: str = "relu",
        tanh: bool = True,
        norm: str = "none",
    ):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = mlp((nz, *hidden, math.prod(out_shape)), activation, norm=norm)
        self.out = nn.Tanh() if tanh else nn.Identity()
        self.latent_shape = (nz,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz) -> (B, *out_shape)
        return self.out(self.net(z)).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """Data (B, *in_shape) -> one logit per sample (B,)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden: tuple[int, ...],
        activation: str = "leaky_relu",
        dropout: float = 0.0,
        mbstd: int = 0,
    ):
        super().__init__()
        self.net = mlp((math.prod(in_shape), *hidden, 1), activation, dropout)
        if mbstd:  # the last hidden features, plus their spread over a group of samples, feed the output layer
            last = self.net[-1]
            self.net[-1] = MinibatchStd(mbstd)
            self.net.append(nn.Linear(last.in_features + 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B,)
        return self.net(x.flatten(1)).flatten()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): (B, C, H, W) -> (B, 1, h, w) real/fake logits, one per overlapping patch.

    A 4x4 stride-2 conv without norm, ``n_layers - 1`` more stride-2 convs and one stride-1 conv with
    norm (widths ndf * 2^i, at most ndf * 8), then a 4x4 conv to one channel. ``n_layers=3`` gives
    each score a 70x70 receptive field: 30x30 scores at 256px. ``norm="batch"`` is pix2pix's (convs
    before it have no bias); ``"instance"`` (no affine) is CycleGAN's, whose 3-channel net has
    2,764,737 parameters.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "instance"):
            raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for i in range(1, n_layers + 1):  # stride 2, then one stride-1 layer before the output
            new = ndf * min(2**i, 8)
            norm_layer = nn.BatchNorm2d(new) if norm == "batch" else nn.InstanceNorm2d(new, affine=False)
            layers += [
                nn.Conv2d(width, new, 4, 2 if i < n_layers else 1, 1, bias=norm != "batch"),
                norm_layer,
                nn.LeakyReLU(0.2, True),
            ]
            width = new
        layers += [nn.Conv2d(width, 1, 4, 1, 1)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 1, h, w)
        return self.main(x)
