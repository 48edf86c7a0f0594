"""StyleGAN2's networks (Karras et al. 2020) in plain PyTorch: no custom CUDA or C++ kernels.

G: a mapping network z -> w, then a synthesis network from a learned constant 4x4 input, two
modulated/demodulated 3x3 convolutions per resolution (each with its own noise input and learned
noise strength) and a toRGB layer per resolution whose outputs are summed ("skip" generator).
D: residual blocks (or plain ones, the official cifar config's "orig"), minibatch standard
deviation, a 3x3 conv and two fully connected layers. Every weight uses the equalised learning
rate: stored N(0, 1), scaled at run time by its He constant. Resampling is the [1, 3, 3, 1] blur
as a depthwise convolution, so double backward (R1, path length) works everywhere.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import tricks
from ganzoo.networks import MinibatchStd

from .config import StyleGAN2Config

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
        self, x: torch.Tensor, w: torch.Tensor
    ) -> torch.Tensor:  # (B, cin, S, S), (B, w_dim) -> (B, cout, S', S')
        if self.up and not self.transposed:
            x = upsample(x)
        x = modulated_conv(x, self.weight, self.affine(w), demodulate=True, transposed_up=self.transposed)
        if self.training:  # fresh noise per sample; a fixed map in eval mode, so samples repeat by seed
            noise = torch.randn((x.shape[0], 1, *x.shape[2:]), device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const[None, None]
        x = lrelu(x + noise * self.noise_strength + self.bias[None, :, None, None])
        return x.clamp(-self.clamp, self.clamp) if self.clamp else x


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
    """One resolution: (the constant, or an upsampling conv) + a conv, and its toRGB added to the image."""

    def __init__(
        self, cin: int, cout: int, w_dim: int, resolution: int, channels: int, clamp: float = 0.0, up_conv: str = ""
    ):
        super().__init__()
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, resolution, resolution))
            self.conv0 = None
        else:
            self.conv0 = StyledConv(cin, cout, w_dim, resolution, up=True, clamp=clamp, up_conv=up_conv)
        self.conv1 = StyledConv(cout, cout, w_dim, resolution, clamp=clamp)
        self.torgb = ToRGB(cout, channels, w_dim, clamp)
        self.num_conv = 1 if cin == 0 else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor):
        """ws (B, num_conv + 1, w_dim): one w per conv, then the toRGB's (shared with the next block's first conv)."""
        if self.conv0 is None:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)  # (B, C, 4, 4)
            x = self.conv1(x, ws[:, 0])
        else:
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else upsample(img) + y)


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image (B, C, S, S): the skip generator."""

    def __init__(
        self,
        w_dim: int,
        image_size: int,
        channels: int,
        channel_base: int,
        channel_max: int,
        clamp: float = 0.0,
        up_conv: str = "upsample_first",
    ):
        super().__init__()
        resolutions = [2**i for i in range(2, int(math.log2(image_size)) + 1)]
        width = {r: min(channel_base // r, channel_max) for r in resolutions}
        self.blocks = nn.ModuleList(
            SynthesisBlock(width[r // 2] if r > 4 else 0, width[r], w_dim, r, channels, clamp, up_conv)
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
            c.w_dim, c.image_size, c.channels, c.channel_base, c.channel_max, float(c.conv_clamp), c.up_conv
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


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs, the second halving the side; "resnet" adds a 1x1 shortcut, both scaled by 1/sqrt(2)."""

    def __init__(self, cin: int, tmp: int, cout: int, channels: int, architecture: str, clamp: float = 0.0):
        super().__init__()
        self.fromrgb = Conv(channels, tmp, 1, clamp=clamp) if cin == 0 else None
        self.conv0 = Conv(tmp, tmp, 3, clamp=clamp)
        self.conv1 = Conv(tmp, cout, 3, down=True, clamp=clamp)
        self.skip = Conv(tmp, cout, 1, bias=False, act=False, down=True) if architecture == "resnet" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, S, S) -> (B, Cout, S/2, S/2)
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        if self.skip is None:
            return self.conv1(self.conv0(x))
        return self.skip(x, gain=math.sqrt(0.5)) + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class Discriminator(nn.Module):
    """Image (B, C, S, S) -> one logit per image (B,)."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        c = config
        resolutions = [2**i for i in range(int(math.log2(c.image_size)), 2, -1)]
        width = {r: min(c.channel_base // r, c.channel_max) for r in resolutions + [4]}
        channels = tricks.d_in_channels(c, c.channels)  # a packed D sees `pack` images' channels at once
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(
                    width[r] if r < c.image_size else 0,
                    width[r],
                    width[r // 2],
                    channels,
                    c.d_architecture,
                    float(c.conv_clamp),
                )
                for r in resolutions
            )
        )
        top = width[4]
        features = c.mbstd_channels if c.mbstd else 0
        self.mbstd = MinibatchStd(c.mbstd, features) if features else None
        self.conv = Conv(top + features, top, 3, clamp=float(c.conv_clamp))
        self.fc = Dense(top * 16, top, act=True)
        self.out = Dense(top, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(x)  # (B, C4, 4, 4)
        if self.mbstd is not None:
            x = self.mbstd(x)
        return self.out(self.fc(self.conv(x).flatten(1))).squeeze(1)  # (B,)


def build(config: StyleGAN2Config) -> dict[str, nn.Module]:
    """G and D; D's input tricks (DiffAugment, packing) installed on it as every GAN's are (ganzoo.tricks)."""
    return {"G": Generator(config), "D": tricks.apply(Discriminator(config), config)}
