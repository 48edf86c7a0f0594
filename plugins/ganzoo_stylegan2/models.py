"""StyleGAN2's networks (Karras et al. 2020) in plain PyTorch: no custom CUDA or C++ kernels.

G: a mapping network z -> w, then a synthesis network from a learned constant 4x4 input, two
modulated/demodulated 3x3 convolutions per resolution (each with its own noise input and learned
noise strength) and a toRGB layer per resolution whose outputs are summed ("skip" generator).
D: see discriminator.py. Every weight uses the equalised learning rate: stored N(0, 1), scaled at
run time by its He constant (layers.py). Resampling is the [1, 3, 3, 1] blur as a depthwise
convolution, so double backward (R1, path length) works everywhere.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import tricks
from ganzoo.networks import MinibatchStd

from .config import StyleGAN2Config
from .discriminator import Discriminator, DiscriminatorBlock
from .layers import Conv, Dense, downsample, lrelu, modulated_conv, normalize_2nd_moment, upsample

__all__ = [  # the discriminator and the layers are importable from here as before
    "Discriminator",
    "DiscriminatorBlock",
    "Generator",
    "MinibatchStd",
    "build",
    "downsample",
    "modulated_conv",
    "upsample",
]


class MappingNetwork(nn.Module):
    """z (B, z_dim) [, class y (B,)] -> w (B, num_ws, w_dim); keeps the running mean w (``w_avg``) that
    truncation uses. A conditional net embeds the one-hot class (``embed``, w_dim features, normalised) and
    feeds it beside z, as the official conditional mapping does."""

    def __init__(
        self, z_dim: int, w_dim: int, num_ws: int, layers: int, lr_mul: float, w_avg_beta: float, num_classes: int = 0
    ):
        super().__init__()
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.embed = Dense(num_classes, w_dim) if num_classes else None
        self.net = nn.Sequential(*(Dense(a, b, lr_mul=lr_mul, act=True) for a, b in zip(dims[:-1], dims[1:])))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.num_ws, self.w_avg_beta, self.num_classes = num_ws, w_avg_beta, num_classes

    def forward(
        self, z: torch.Tensor, truncation: float = 1.0, update_w_avg: bool = True, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = normalize_2nd_moment(z)  # (B, z_dim)
        if self.embed is not None:
            if y is None:
                raise ValueError(f"this generator is conditional ({self.num_classes} classes): give class labels y")
            c = F.one_hot(y.long(), self.num_classes).to(z.dtype)  # (B, num_classes)
            x = torch.cat([x, normalize_2nd_moment(self.embed(c))], dim=1)  # (B, z_dim + w_dim)
        w = self.net(x)  # (B, w_dim)
        if self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if truncation != 1:
            w = self.w_avg.lerp(w, truncation)  # pull towards the mean w
        return w[:, None].expand(-1, self.num_ws, -1)  # (B, num_ws, w_dim)


class StyledConv(nn.Module):
    """Modulated 3x3 conv (after an optional 2x upsampling), per-pixel noise, bias, leaky ReLU; ``clamp`` > 0
    bounds the output to [-clamp, clamp] (the official ``conv_clamp``). ``up_conv`` says how an upsampling
    conv is computed (see StyleGAN2Config.up_conv)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        w_dim: int,
        resolution: int,
        up: bool = False,
        clamp: float = 0.0,
        up_conv: str = "upsample_first",
    ):
        super().__init__()
        self.affine = Dense(w_dim, cin, bias_init=1.0)  # w -> per-input-channel scales
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # the noise of eval mode
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.up, self.clamp, self.transposed = up, clamp, up and up_conv == "transposed"

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, gain: float = 1.0
    ) -> torch.Tensor:  # (B, cin, S, S), (B, w_dim) -> (B, cout, S', S')
        if self.up and not self.transposed:
            x = upsample(x)
        x = modulated_conv(x, self.weight, self.affine(w), demodulate=True, transposed_up=self.transposed)
        if self.training:  # fresh noise per sample; a fixed map in eval mode, so samples repeat by seed
            noise = torch.randn((x.shape[0], 1, *x.shape[2:]), device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const[None, None]
        x = lrelu(x + noise * self.noise_strength + self.bias[None, :, None, None], gain)
        return x.clamp(-self.clamp * gain, self.clamp * gain) if self.clamp else x


class ToRGB(nn.Module):
    """Modulated 1x1 conv to the image channels, not demodulated, no activation."""

    def __init__(self, cin: int, channels: int, w_dim: int, clamp: float = 0.0):
        super().__init__()
        self.affine = Dense(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain, self.clamp = 1 / math.sqrt(cin), clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # (B, cin, S, S) -> (B, C, S, S)
        x = modulated_conv(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        x = x + self.bias[None, :, None, None]
        return x.clamp(-self.clamp, self.clamp) if self.clamp else x


class SynthesisBlock(nn.Module):
    """One resolution: (the constant, or an upsampling conv) + a conv, and its toRGB added to the image.

    ``architecture`` (the official three): "skip" sums every block's toRGB output; "orig" and "resnet" have a
    toRGB in the last block only, and "resnet" adds an upsampled 1x1 shortcut, both paths scaled by 1/sqrt(2).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        w_dim: int,
        resolution: int,
        channels: int,
        clamp: float = 0.0,
        up_conv: str = "",
        architecture: str = "skip",
        last: bool = True,
    ):
        super().__init__()
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, resolution, resolution))
            self.conv0 = None
        else:
            self.conv0 = StyledConv(cin, cout, w_dim, resolution, up=True, clamp=clamp, up_conv=up_conv)
        self.conv1 = StyledConv(cout, cout, w_dim, resolution, clamp=clamp)
        self.torgb = ToRGB(cout, channels, w_dim, clamp) if last or architecture == "skip" else None
        self.skip = Conv(cin, cout, 1, bias=False, act=False) if cin and architecture == "resnet" else None
        self.num_conv = 1 if cin == 0 else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor):
        """ws (B, num_conv + 1, w_dim): one w per conv, then the toRGB's (shared with the next block's first conv)."""
        if self.conv0 is None:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)  # (B, C, 4, 4)
            x = self.conv1(x, ws[:, 0])
        elif self.skip is not None:  # (B, cout, 2S, 2S): shortcut + convs
            shortcut = upsample(self.skip(x, gain=math.sqrt(0.5)))
            x = shortcut + self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1], gain=math.sqrt(0.5))
        else:
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        img = upsample(img) if img is not None else None
        if self.torgb is None:
            return x, img
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else img + y)


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image (B, C, S, S): the skip generator (or "orig", "resnet")."""

    def __init__(
        self,
        w_dim: int,
        image_size: int,
        channels: int,
        channel_base: int,
        channel_max: int,
        clamp: float = 0.0,
        up_conv: str = "upsample_first",
        architecture: str = "skip",
    ):
        super().__init__()
        resolutions = [2**i for i in range(2, int(math.log2(image_size)) + 1)]
        width = {r: min(channel_base // r, channel_max) for r in resolutions}
        self.blocks = nn.ModuleList(
            SynthesisBlock(
                width[r // 2] if r > 4 else 0,
                width[r],
                w_dim,
                r,
                channels,
                clamp,
                up_conv,
                architecture,
                last=r == image_size,
            )
            for r in resolutions
        )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i : i + block.num_conv + 1])
            i += block.num_conv
        return img


class Generator(nn.Module):
    """z (B, z_dim) [, class y (B,)] -> image (B, C, S, S), in [-1, 1] in eval mode (see ``render``).

    ``truncation`` < 1 pulls w towards the tracked mean w; ``mixing`` (training only) is the chance
    that the batch takes its styles from a second latent from a random layer on.
    """

    truncation_space = "w"  # GanModel.sample(truncation=...) truncates in W (see ganzoo.model)

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        c = config
        self.synthesis = SynthesisNetwork(
            c.w_dim,
            c.image_size,
            c.channels,
            c.channel_base,
            c.channel_max,
            float(c.conv_clamp),
            c.up_conv,
            c.g_architecture,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            c.z_dim, c.w_dim, self.num_ws, c.mapping_layers, c.mapping_lr_mul, c.w_avg_beta, c.num_classes
        )
        self.latent_shape = (c.z_dim,)
        self.num_classes = c.num_classes  # 0: unconditional (checked against the task's)
        self.tanh = c.output == "tanh"

    def forward(
        self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0, mixing: float = 0.0
    ) -> torch.Tensor:
        ws = self.mapping(z, truncation, y=y)  # (B, num_ws, w_dim)
        if mixing > 0 and self.training:
            ws = self.mix(ws, z, mixing, y)
        return self.render(ws)

    def mix(self, ws: torch.Tensor, z: torch.Tensor, probability: float, y: torch.Tensor | None = None) -> torch.Tensor:
        """With ``probability``, layers from a random cutoff on take the styles of fresh latents.

        One cutoff per batch.
        """
        cutoff = int(torch.randint(1, self.num_ws, ()))  # drawn on the CPU: no device sync
        if float(torch.rand(())) >= probability:
            return ws
        other = self.mapping(torch.randn_like(z), update_w_avg=False, y=y)
        return torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1)

    def render(self, ws: torch.Tensor) -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> images (B, C, S, S): raw in training (D sees what G draws, as in the official
        code), clamped to [-1, 1] in eval mode (samples); with ``output="tanh"`` squashed into (-1, 1) always."""
        img = self.synthesis(ws)
        if self.tanh:
            return torch.tanh(img)
        return img if self.training else img.clamp(-1, 1)


def build(config: StyleGAN2Config) -> dict[str, nn.Module]:
    """G and D; D's input tricks (DiffAugment, packing) installed on it as every GAN's are (ganzoo.tricks)."""
    return {"G": Generator(config), "D": tricks.apply(Discriminator(config), config)}
