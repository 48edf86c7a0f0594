"""CycleGAN networks: the paper's ResNet generator, and the shared PatchGAN (ganzoo.networks).

Both use instance norm without affine parameters (so convs keep their biases), reflection
padding in the generator, and N(0, 0.02) init. At 256px with 3 channels the 9-block generator
has 11,378,179 parameters and the 70x70 PatchGAN 2,764,737, giving a 30x30 map of scores.
"""

import torch
from torch import nn

from ganzoo.networks import PatchDiscriminator

from .config import CycleGANConfig


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False)


class ResnetBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x), with reflection padding: (B, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, n_blocks residual blocks, two upsamplings, c7s1-C, tanh."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), _norm(ngf), nn.ReLU(True)]
        width = ngf
        for _ in range(2):  # (B, w, H, W) -> (B, 2w, H/2, W/2)
            layers += [nn.Conv2d(width, width * 2, 3, stride=2, padding=1), _norm(width * 2), nn.ReLU(True)]
            width *= 2
        layers += [ResnetBlock(width) for _ in range(n_blocks)]
        for _ in range(2):  # (B, w, H, W) -> (B, w/2, 2H, 2W)
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        return self.main(x)


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)


def build(config: CycleGANConfig) -> dict[str, nn.Module]:
    """G_AB, G_BA and the two PatchGANs; with ``one_way`` G_AB and D_B alone (the authors' released files)."""
    c, blocks = config.channels, config.resnet_blocks
    names = ("G_AB", "D_B") if config.one_way else ("G_AB", "G_BA", "D_A", "D_B")
    nets: dict[str, nn.Module] = {
        name: ResnetGenerator(c, c, config.ngf, blocks)
        if name.startswith("G")
        else PatchDiscriminator(c, config.ndf, config.n_layers_d, norm="instance")
        for name in names
    }
    for net in nets.values():
        _init(net)
    return nets
