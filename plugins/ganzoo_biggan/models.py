"""BigGAN and BigGAN-deep (Brock et al. 2019): class-conditional generator and projection discriminator.

G: a shared class embedding; z (split into chunks with ``hier``: the first feeds the linear, one
per block) and the embedding feed every conditional batch norm, gain 1 + W c and bias W' c of
c = [embedding, z chunk]; residual up-blocks from 4x4; one self-attention block; BN, ReLU, conv,
tanh. BigGAN-deep ("deep"): bottleneck blocks (1x1, 3x3, 3x3, 1x1), two per resolution, whole z
concatenated with the embedding for the linear and every norm, skips that drop channels.
D: residual down-blocks, one self-attention block, ReLU, global sum pooling, a linear score plus
the projection <embed(y), h>. Every conv and linear of both is spectrally normalised.
Labels y (B,) int64 are required: BigGAN is class-conditional.
"""

from __future__ import annotations

from itertools import pairwise, repeat

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import tricks
from ganzoo.config import check_labels
from ganzoo.latent import draw_z
from ganzoo.networks import MinibatchStd

from .config import D_WIDTHS, G_WIDTHS, BigGANConfig

TRUNCNORM_BOUND = 2.0  # DeepMind's samples: z = t * (a normal truncated to [-2, 2]), BN statistics picked by t


def _ortho(layer: nn.Module) -> nn.Module:
    nn.init.orthogonal_(layer.weight)  # the paper's init of every conv, linear and embedding
    return layer


def _sn(layer: nn.Module, eps: float) -> nn.Module:
    return spectral_norm(_ortho(layer), eps=eps)  # W / sigma(W), one power iteration per training forward


def _conv(cin: int, cout: int, k: int, eps: float, bias: bool = True) -> nn.Module:
    return _sn(nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias), eps)


class TruncationBatchNorm(nn.BatchNorm2d):
    """Batch norm that, in eval mode with a truncation t, can use statistics recorded per t (n_stats > 0).

    DeepMind's BigGAN-deep release holds them for t = 0, 0.02, ..., 1; between two, they are
    interpolated linearly. Without t (or a table) it is an ordinary batch norm.
    """

    def __init__(self, channels: int, eps: float, affine: bool, n_stats: int = 0):
        super().__init__(channels, eps=eps, affine=affine)
        self.n_stats = n_stats
        if n_stats:
            self.register_buffer("means_by_truncation", torch.zeros(n_stats, channels))
            self.register_buffer("vars_by_truncation", torch.ones(n_stats, channels))

    def forward(self, x: torch.Tensor, truncation: float | None = None) -> torch.Tensor:  # (B, C, H, W)
        if self.training or not self.n_stats or truncation is None:
            return super().forward(x)
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], got {truncation!r}")
        pos = truncation * (self.n_stats - 1)  # t on the table's grid
        if abs(pos - round(pos)) < 1e-6:
            mean, var = self.means_by_truncation[round(pos)], self.vars_by_truncation[round(pos)]  # (C,)
        else:
            lo, frac = int(pos), pos - int(pos)
            mean = torch.lerp(self.means_by_truncation[lo], self.means_by_truncation[lo + 1], frac)
            var = torch.lerp(self.vars_by_truncation[lo], self.vars_by_truncation[lo + 1], frac)
        return F.batch_norm(x, mean, var, self.weight, self.bias, False, 0.0, self.eps)


class ConditionalBatchNorm(nn.Module):
    """Batch norm without affine, then gain 1 + gain(c) and bias(c) per sample.

    ``cond_dim`` > 0: c is a vector (shared embedding [+ z]) through spectrally normalised linears;
    0: c is the class label, through per-class tables (BigGAN-PyTorch's unshared setting).
    """

    def __init__(self, channels: int, cond_dim: int, num_classes: int, config: BigGANConfig):
        super().__init__()
        self.bn = TruncationBatchNorm(channels, config.bn_eps, affine=False, n_stats=config.n_stats)
        if cond_dim:
            self.gain = _sn(nn.Linear(cond_dim, channels, bias=False), config.sn_eps)
            self.bias = _sn(nn.Linear(cond_dim, channels, bias=False), config.sn_eps)
        else:
            self.gain = _ortho(nn.Embedding(num_classes, channels))
            self.bias = _ortho(nn.Embedding(num_classes, channels))

    def forward(self, x: torch.Tensor, c: torch.Tensor, truncation: float | None) -> torch.Tensor:
        h = self.bn(x, truncation)  # (B, C, H, W)
        return h * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class Attention(nn.Module):
    """Self-attention (Zhang et al. 2019): x + gamma * o(g attended by softmax(theta^T phi)); phi, g pooled 2x2."""

    def __init__(self, ch: int, eps: float):
        super().__init__()
        self.theta, self.phi = _conv(ch, ch // 8, 1, eps, bias=False), _conv(ch, ch // 8, 1, eps, bias=False)
        self.g, self.o = _conv(ch, ch // 2, 1, eps, bias=False), _conv(ch // 2, ch, 1, eps, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))  # starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> same
        b, c, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (B, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (B, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (B, C/2, HW/4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (B, HW, HW/4)
        o = self.o((g @ beta.transpose(1, 2)).view(b, c // 2, h, w))  # (B, C, H, W)
        return x + self.gamma * o


class GBlock(nn.Module):
    """BigGAN's up-block: cBN-ReLU-upsample-conv3-cBN-ReLU-conv3, plus a 1x1 conv of the upsampled input."""

    def __init__(self, cin: int, cout: int, cond_dim: int, num_classes: int, config: BigGANConfig):
        super().__init__()
        eps = config.sn_eps
        self.b1, self.b2 = (ConditionalBatchNorm(c, cond_dim, num_classes, config) for c in (cin, cout))
        self.c1, self.c2, self.c_sc = _conv(cin, cout, 3, eps), _conv(cout, cout, 3, eps), _conv(cin, cout, 1, eps)

    def forward(self, x: torch.Tensor, c: torch.Tensor, t: float | None) -> torch.Tensor:  # (B, Cin, S, S) -> 2S
        h = F.interpolate(F.relu(self.b1(x, c, t)), scale_factor=2)  # nearest neighbour
        h = self.c2(F.relu(self.b2(self.c1(h), c, t)))
        return h + self.c_sc(F.interpolate(x, scale_factor=2))


class DeepGBlock(nn.Module):
    """BigGAN-deep's block: four cBN-ReLU-conv (1x1, 3x3, 3x3, 1x1) through cin/4 channels, the upsampling
    (if ``up``) before the first 3x3; the skip keeps the first cout channels (and is upsampled)."""

    def __init__(self, cin: int, cout: int, up: bool, cond_dim: int, config: BigGANConfig):
        super().__init__()
        mid, eps = cin // 4, config.sn_eps
        norms = (ConditionalBatchNorm(c, cond_dim, 0, config) for c in (cin, mid, mid, mid))
        self.b1, self.b2, self.b3, self.b4 = norms
        self.c1, self.c2 = _conv(cin, mid, 1, eps), _conv(mid, mid, 3, eps)
        self.c3, self.c4 = _conv(mid, mid, 3, eps), _conv(mid, cout, 1, eps)
        self.up, self.cout = up, cout

    def forward(self, x: torch.Tensor, c: torch.Tensor, t: float | None) -> torch.Tensor:  # (B, Cin, S, S)
        h = F.relu(self.b2(self.c1(F.relu(self.b1(x, c, t))), c, t))  # (B, Cin/4, S, S)
        skip = x[:, : self.cout]  # channels dropped, not mixed
        if self.up:
            h, skip = F.interpolate(h, scale_factor=2), F.interpolate(skip, scale_factor=2)
        h = self.c3(F.relu(self.b3(self.c2(h), c, t)))
        return self.c4(F.relu(self.b4(h, c, t))) + skip  # (B, Cout, S or 2S, ...)


class Generator(nn.Module):
    """z (B, nz) and labels y (B,) -> image (B, C, S, S) in [-1, 1]; ``truncation`` picks recorded BN statistics."""

    takes_truncation = True  # forward(z, y, truncation=t): the BN statistics recorded for t (n_stats > 0)

    def __init__(self, config: BigGANConfig):
        super().__init__()
        c, deep = config, config.arch == "deep"
        widths = [c.g_ch * m for m in G_WIDTHS[c.image_size]]
        n_res = len(widths) - 1
        self.chunk = c.nz // (n_res + 1) if c.hier and not deep else 0  # per-block z chunk (hierarchical z)
        cond_dim = c.shared_dim + (c.nz if deep else self.chunk)
        self.shared = _ortho(nn.Embedding(c.num_classes, c.shared_dim)) if c.shared_dim else None
        linear_in = c.nz + c.shared_dim if deep else (self.chunk or c.nz)
        self.linear = _sn(nn.Linear(linear_in, 16 * widths[0]), c.sn_eps)  # to (B, widths[0], 4, 4)
        blocks: list[nn.Module] = []
        for i, (a, b) in enumerate(pairwise(widths)):
            if deep:
                blocks += [DeepGBlock(a, a, False, cond_dim, c), DeepGBlock(a, b, True, cond_dim, c)]
            else:
                blocks.append(GBlock(a, b, cond_dim, c.num_classes, c))
            if 2 ** (i + 3) == c.attn:  # this resolution's output side
                blocks.append(Attention(b, c.sn_eps))
        self.blocks = nn.ModuleList(blocks)
        self.bn = TruncationBatchNorm(widths[-1], c.bn_eps, affine=True, n_stats=c.n_stats)
        self.conv = _conv(widths[-1], c.rgb_ch, 3, c.sn_eps)
        self.deep, self.channels = deep, c.channels
        self.latent_shape = (c.nz,)
        self.num_classes = c.num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float | None = None) -> torch.Tensor:
        check_labels(self, z.shape[0], y)
        emb = self.shared(y) if self.shared is not None else None  # (B, shared_dim)
        if self.deep:
            cond = torch.cat([z, emb], dim=1)  # (B, nz + shared_dim): the linear's input and every norm's
            h, conds = self.linear(cond), repeat(cond)
        elif self.chunk:
            zs = z.split(self.chunk, dim=1)  # (B, chunk) each
            h, conds = self.linear(zs[0]), iter([torch.cat([emb, zc], dim=1) for zc in zs[1:]])
        else:
            h, conds = self.linear(z), repeat(emb if emb is not None else y)  # unshared: the labels index tables
        h = h.view(z.shape[0], -1, 4, 4)  # (B, C0, 4, 4)
        for block in self.blocks:
            h = block(h) if isinstance(block, Attention) else block(h, next(conds), truncation)
        h = self.conv(F.relu(self.bn(h, truncation)))  # (B, rgb_ch, S, S)
        return torch.tanh(h[:, : self.channels])  # (B, C, S, S)

    def truncated_latent(self, n: int, rng: torch.Generator | None, truncation: float) -> torch.Tensor:
        """(n, nz) latents as BigGAN's published samples draw them: t * (a normal truncated to [-2, 2])."""
        return truncation * draw_z(n, self.latent_shape, rng, TRUNCNORM_BOUND)


class DBlock(nn.Module):
    """BigGAN's down-block (wide): [ReLU]-conv3-ReLU-conv3 [then 2x2 average pooling], plus a shortcut
    (a 1x1 conv when the shape changes). ``first``: meets the image, no ReLU in front."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool, eps: float):
        super().__init__()
        self.c1, self.c2 = _conv(cin, cout, 3, eps), _conv(cout, cout, 3, eps)
        self.c_sc = _conv(cin, cout, 1, eps) if cin != cout or down else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, S, S) -> (B, Cout, S/2 or S, ...)
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        skip = x
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)  # a 1x1 conv commutes with the pooling
        return h + (self.c_sc(skip) if self.c_sc is not None else skip)


class DeepDBlock(nn.Module):
    """BigGAN-deep's down-block: ReLU-conv1-ReLU-conv3-ReLU-conv3-ReLU [pool] conv1 through cout/4 channels;
    the skip keeps its channels and appends cout - cin made by a 1x1 conv."""

    def __init__(self, cin: int, cout: int, down: bool, eps: float):
        super().__init__()
        mid = cout // 4
        self.c1, self.c2, self.c3 = _conv(cin, mid, 1, eps), _conv(mid, mid, 3, eps), _conv(mid, mid, 3, eps)
        self.c4 = _conv(mid, cout, 1, eps)
        self.c_sc = _conv(cin, cout - cin, 1, eps) if cout > cin else None
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, S, S) -> (B, Cout, S/2 or S, ...)
        h = F.relu(self.c3(F.relu(self.c2(F.relu(self.c1(F.relu(x)))))))
        skip = x
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        if self.c_sc is not None:
            skip = torch.cat([skip, self.c_sc(skip)], dim=1)
        return self.c4(h) + skip


class Discriminator(nn.Module):
    """Image (B, C, S, S) and labels y (B,) -> one logit per image (B,)."""

    def __init__(self, config: BigGANConfig, in_channels: int):
        super().__init__()
        c, eps = config, config.sn_eps
        mults, n_down = D_WIDTHS[c.image_size]
        widths = [c.d_ch * m for m in mults]
        deep = c.arch == "deep"
        self.input_conv = _conv(in_channels, widths[0], 3, eps) if deep else None
        side, blocks, attended = c.image_size, [], False
        for i, (a, b) in enumerate(pairwise(widths) if deep else pairwise([in_channels, *widths])):
            down = i < n_down
            side //= 2 if down else 1
            if deep:
                blocks += [DeepDBlock(a, b, down, eps), DeepDBlock(b, b, False, eps)]
            else:
                blocks.append(DBlock(a, b, down, i == 0, eps))
            if side == c.attn and not attended:  # one attention block, after the first output of that side
                blocks.append(Attention(b, eps))
                attended = True
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = MinibatchStd(c.mbstd) if c.mbstd else None  # the last features' spread, one more channel
        top = widths[-1] + (c.mbstd > 0)
        self.linear = _sn(nn.Linear(top, 1), eps)
        self.embed = _sn(nn.Embedding(c.num_classes, top), eps)  # the projection's V
        self.num_classes = c.num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, x.shape[0], y)
        h = self.blocks(x if self.input_conv is None else self.input_conv(x))  # (B, C', s, s)
        if self.mbstd is not None:
            h = self.mbstd(h)  # (B, C' + 1, s, s)
        h = F.relu(h).sum(dim=(2, 3))  # (B, C') global sum pooling
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)  # (B,): score + projection <V y, h>


def build(config: BigGANConfig) -> dict[str, nn.Module]:
    D = Discriminator(config, tricks.d_in_channels(config, config.channels))
    return {"G": Generator(config), "D": tricks.apply(D, config)}
