"""StyleGAN2's building blocks in plain PyTorch: equalised-learning-rate layers, the [1, 3, 3, 1] resampling
blur (a depthwise convolution, so double backward works everywhere) and the modulated convolution."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2)


def _blur_kernel(channels: int, like: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The separable [1, 3, 3, 1] filter, normalised to sum ``gain``, one per channel: (C, 1, 4, 4)."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=like.dtype, device=like.device)
    f = torch.outer(f, f) * (gain / 64)
    return f.expand(channels, 1, 4, 4)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W): zeros between pixels, then the blur (gain 4 keeps the mean)."""
    return F.conv_transpose2d(x, _blur_kernel(x.shape[1], x, 4.0), stride=2, padding=1, groups=x.shape[1])


def downsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/2, W/2): the blur, keeping every second pixel."""
    return F.conv2d(x, _blur_kernel(x.shape[1], x), stride=2, padding=1, groups=x.shape[1])


def lrelu(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) scaled by sqrt(2) to keep the signal's magnitude, times ``gain``."""
    return F.leaky_relu(x, 0.2) * (SQRT2 * gain)


class Dense(nn.Module):
    """Fully connected layer with equalised learning rate; ``lr_mul`` slows it (the mapping network)."""

    def __init__(
        self, cin: int, cout: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init))) if bias else None
        self.weight_gain, self.bias_gain, self.act = lr_mul / math.sqrt(cin), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin) -> (B, cout)
        b = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        return lrelu(x) if self.act else x


class Conv(nn.Module):
    """Conv with equalised learning rate; ``down`` blurs, then convolves with stride 2 (halves the side);
    ``clamp`` > 0 bounds the output to [-clamp, clamp] times the gain (the official ``conv_clamp``)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        bias: bool = True,
        act: bool = True,
        down: bool = False,
        clamp: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.weight_gain, self.act, self.down, self.kernel = 1 / math.sqrt(cin * kernel * kernel), act, down, kernel
        self.clamp = clamp

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H', W')
        w = self.weight * self.weight_gain
        if self.down and self.kernel == 1:
            x = F.conv2d(downsample(x), w)
        elif self.down:  # blur to H+1, then a valid 3x3 conv with stride 2: H/2
            x = F.conv2d(F.conv2d(x, _blur_kernel(x.shape[1], x), padding=2, groups=x.shape[1]), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        x = lrelu(x, gain) if self.act else x * gain
        return x.clamp(-self.clamp * gain, self.clamp * gain) if self.clamp else x


def modulated_conv(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, transposed_up: bool = False
) -> torch.Tensor:
    """Each sample's own conv: ``weight`` (O, I, k, k) scaled per input channel by ``styles`` (B, I), then
    (demodulate) each output filter normalised to unit norm. (B, I, H, W) -> (B, O, H, W).

    Computed as scale inputs, one shared conv, scale outputs: the same result as a per-sample
    (grouped) conv, and several times faster on a CPU. ``transposed_up``: (B, I, H, W) -> (B, O, 2H, 2W) as
    NVlabs' conv2d_resample computes it, a stride-2 transposed conv, then the blur (gain 4).
    """
    x = x * styles[:, :, None, None]
    if transposed_up:
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # (B, O, 2H + 1, 2W + 1)
        x = F.conv2d(x, _blur_kernel(x.shape[1], x, 4.0), padding=1, groups=x.shape[1])  # (B, O, 2H, 2W)
    else:
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)  # (B, O, H, W)
    if demodulate:
        wts = weight[None] * styles[:, None, :, None, None]  # (B, O, I, k, k)
        x = x * (wts.square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()[:, :, None, None]
    return x


def normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    """(B, D) rows scaled to unit mean square."""
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
