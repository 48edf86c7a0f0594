"""Network building blocks shared by variants: the DCGAN-style conv nets and MLPs.

Plugins build their generators and discriminators from these (or bring their own). A generator
exposes ``latent_shape`` so that a model can draw its noise without knowing the architecture.
"""

from __future__ import annotations

import math

import torch
from torch import nn


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


def _norm2d(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":  # layer norm over (C, H, W) of each sample, per-channel affine
        return nn.GroupNorm(1, channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer' or 'none', got {norm!r}")


class ConvGenerator(nn.Module):
    """DCGAN generator: z (B, nz, 1, 1) -> 4x4 -> ... -> image (B, C, S, S) in [-1, 1].

    Each stride-2 transposed conv doubles the size; channel width halves from ngf * S/8 down to
    ngf. At S=64, nz=100, ngf=64, C=3 this is the 3,576,704-parameter net of the paper's code.
    """

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64, norm: str = "batch",
                 out_bias: bool | None = None):
        super().__init__()
        n_up = int(math.log2(image_size)) - 2  # stride-2 layers after the first 4x4 projection
        bias = norm != "batch"
        width = ngf * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=bias), _norm2d(norm, width), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=bias), _norm2d(norm, width // 2), nn.ReLU(True)]
            width //= 2
        out_bias = bias if out_bias is None else out_bias  # the output layer has no norm after it to absorb a bias
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=out_bias), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.latent_shape = (nz, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, C, S, S)
        return self.main(z)


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator: image (B, C, S, S) -> one logit per image (B,).

    Stride-2 convs halve the size down to 4x4, then a 4x4 conv gives the score. The first layer
    has no norm, as in the paper. ``norm="layer"`` or ``"none"`` gives the WGAN-GP critic, whose
    gradient penalty is per sample and so must not mix samples through batch norm. The output is
    a logit (no sigmoid), so losses use the numerically stable ``*_with_logits`` forms.
    """

    def __init__(self, channels: int = 3, ndf: int = 64, image_size: int = 64, norm: str = "batch"):
        super().__init__()
        n_down = int(math.log2(image_size)) - 2
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=bias), _norm2d(norm, width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=bias)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) -> (B,)
        return self.main(x).flatten()


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

    def __init__(self, nz: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], activation: str = "relu",
                 tanh: bool = True, norm: str = "none"):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = mlp((nz, *hidden, math.prod(out_shape)), activation, norm=norm)
        self.out = nn.Tanh() if tanh else nn.Identity()
        self.latent_shape = (nz,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz) -> (B, *out_shape)
        return self.out(self.net(z)).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """Data (B, *in_shape) -> one logit per sample (B,)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...], activation: str = "leaky_relu", dropout: float = 0.0):
        super().__init__()
        self.net = mlp((math.prod(in_shape), *hidden, 1), activation, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B,)
        return self.net(x.flatten(1)).flatten()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
