"""StyleGAN2's discriminator: residual blocks (or plain ones, the official cifar config's "orig"), minibatch
standard deviation, a 3x3 conv and two fully connected layers; a conditional one (``num_classes`` > 0) projects
its features onto a learned class embedding, as NVlabs' conditional D does."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import tricks
from ganzoo.networks import MinibatchStd

from .config import StyleGAN2Config
from .layers import Conv, Dense, downsample, normalize_2nd_moment


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs, the second halving the side; "resnet" adds a 1x1 shortcut, both scaled by 1/sqrt(2);
    "skip" adds the image, downsampled, through its own fromRGB at every block (the first block's only otherwise)."""

    def __init__(self, cin: int, tmp: int, cout: int, channels: int, architecture: str, clamp: float = 0.0):
        super().__init__()
        self.fromrgb = Conv(channels, tmp, 1, clamp=clamp) if cin == 0 or architecture == "skip" else None
        self.conv0 = Conv(tmp, tmp, 3, clamp=clamp)
        self.conv1 = Conv(tmp, cout, 3, down=True, clamp=clamp)
        self.skip = Conv(tmp, cout, 1, bias=False, act=False, down=True) if architecture == "resnet" else None
        self.image_path = architecture == "skip"

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (B, Cin, S, S) (None at the first block) and the image (B, C, S, S) (None once consumed) ->
        (B, Cout, S/2, S/2) and the image halved for the next block's fromRGB (a "skip" D's) or None."""
        if self.fromrgb is not None:
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample(img) if self.image_path else None
        if self.skip is None:
            return self.conv1(self.conv0(x)), img
        return self.skip(x, gain=math.sqrt(0.5)) + self.conv1(self.conv0(x), gain=math.sqrt(0.5)), img


class ClassMap(nn.Module):
    """A conditional D's class embedding, y (B,) -> (B, dim): the one-hot class embedded and normalised, then
    ``layers`` fully connected layers (NVlabs' D mapping network, which has no z)."""

    def __init__(self, num_classes: int, dim: int, layers: int, lr_mul: float):
        super().__init__()
        self.embed = Dense(num_classes, dim)
        self.net = nn.Sequential(*(Dense(dim, dim, lr_mul=lr_mul, act=True) for _ in range(layers)))
        self.num_classes = num_classes

    def forward(self, y: torch.Tensor) -> torch.Tensor:  # (B,) -> (B, dim)
        c = F.one_hot(y.long(), self.num_classes).to(self.embed.weight.dtype)  # (B, num_classes)
        return self.net(normalize_2nd_moment(self.embed(c)))


class Discriminator(nn.Module):
    """Image (B, C, S, S) [, class y (B,)] -> one logit per image (B,); a conditional D's logit is its features
    projected onto the class's embedding, divided by sqrt of their length."""

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
        self.fromrgb = Conv(channels, top, 1) if c.d_architecture == "skip" else None  # (unclamped, as NVlabs')
        self.conv = Conv(top + features, top, 3, clamp=float(c.conv_clamp))
        self.fc = Dense(top * 16, top, act=True)
        self.cmap = ClassMap(c.num_classes, top, c.d_mapping_layers, c.mapping_lr_mul) if c.num_classes else None
        self.out = Dense(top, top if self.cmap is not None else 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h, img = None, x
        for block in self.blocks:
            h, img = block(h, img)
        x = h if self.fromrgb is None else h + self.fromrgb(img)  # (B, C4, 4, 4)
        if self.mbstd is not None:
            x = self.mbstd(x)
        out = self.out(self.fc(self.conv(x).flatten(1)))  # (B, 1), or (B, C4) for a conditional D
        if self.cmap is None:
            return out.squeeze(1)  # (B,)
        if y is None:
            raise ValueError(f"this discriminator is conditional ({self.cmap.num_classes} classes): give labels y")
        return (out * self.cmap(y)).sum(dim=1) / math.sqrt(out.shape[1])  # (B,)
