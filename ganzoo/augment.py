"""Differentiable augmentation of a discriminator's inputs (DiffAugment, Zhao et al. 2020).

On small data sets D memorises the real images and its gradient stops teaching G. Transforming
real and fake images alike before every D call, with ops that gradients flow through, takes
that away without teaching G to draw the transforms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply each op of ``policy`` (see ganzoo.config.AUGMENTATIONS) to images ``x`` (B, C, H, W), fresh per sample."""
    for op in policy.split(","):
        if op == "translation":
            x = translate(x)
        elif op == "cutout":
            x = cutout(x)
    return x


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side in x and y, filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + ty + 1).clamp(0, h + 1)  # (B, H, 1) in the padded image
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + tx + 1).clamp(0, w + 1)  # (B, 1, W)
    padded = F.pad(x, [1, 1, 1, 1])  # (B, C, H+2, W+2): the border row/column is the fill
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` times the side at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device) - ch // 2  # may start off the image
    left = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


# ---- ADA's pipeline (Karras et al. 2020, arXiv:2006.06676): every op on every sample with probability p ----

ADA_GROUPS = "bgc"  # b: x-flip, 90-degree rotations, integer shifts; g: scaling, rotation, fractional shifts; c: colour
SHIFT = 0.125  # largest integer shift (b) and std of the fractional one (g), as a fraction of the side
SCALE_STD = 0.2  # std of log2 of the isotropic and anisotropic scales
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0  # std of the offset, of log2 contrast and saturation


def ada_augment(x: torch.Tensor, p: float, groups: str = ADA_GROUPS) -> torch.Tensor:
    """Images ``x`` (B, C, H, W) in [-1, 1] through ADA's op ``groups``, each op on each sample with probability p.

    The geometric ops of a sample become one map, resampled once (bilinear, reflected at the border); its
    colour ops one affine colour map. Gradients reach ``x``; at p = 0 ``x`` is returned unchanged.
    """
    if p <= 0:
        return x
    if "b" in groups or "g" in groups:
        where = torch.eye(3, device=x.device).expand(x.shape[0], 3, 3)  # (B, 3, 3): output pixel -> input pixel
        if "b" in groups:
            where = where @ _blit(x, p)
        if "g" in groups:
            where = where @ _general(x, p)
        x = _resample(x, where)
    if "c" in groups:
        x = _recolour(x, *_colour(x, p))
    return x


def _chosen(x: torch.Tensor, p: float) -> torch.Tensor:
    """(B,): 1 for each sample an op applies to (probability p), else 0."""
    return (torch.rand(x.shape[0], device=x.device) < p).float()


def _lognormal(x: torch.Tensor, p: float, std: float) -> torch.Tensor:
    """(B,): 2 ** N(0, std^2) for the samples chosen with probability p, 1 for the others."""
    return torch.exp2(torch.randn(x.shape[0], device=x.device) * std * _chosen(x, p))


def _affine(
    sx: torch.Tensor, sy: torch.Tensor, angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor
) -> torch.Tensor:
    """(B, 3, 3) in centred pixel coordinates: scale by (sx, sy), rotate by ``angle`` radians, shift by (tx, ty)."""
    cos, sin, zero, one = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([sx * cos, -sy * sin, tx, sx * sin, sy * cos, ty, zero, zero, one], dim=1).view(-1, 3, 3)


def _blit(x: torch.Tensor, p: float) -> torch.Tensor:
    """x-flip, then a multiple of 90 degrees, then a whole-pixel shift of up to SHIFT of the side: (B, 3, 3)."""
    b, _, h, w = x.shape
    one, zero = torch.ones(b, device=x.device), torch.zeros(b, device=x.device)
    flip = 1 - 2 * _chosen(x, p) * torch.randint(0, 2, (b,), device=x.device)  # -1: mirrored left to right
    quarter = _chosen(x, p) * torch.randint(0, 4, (b,), device=x.device) * (torch.pi / 2)
    shift = _chosen(x, p).unsqueeze(1) * (torch.rand(b, 2, device=x.device) * 2 - 1) * SHIFT  # (B, 2)
    tx, ty = (shift[:, 0] * w).round(), (shift[:, 1] * h).round()
    return (
        _affine(flip, one, zero, zero, zero) @ _affine(one, one, quarter, zero, zero) @ _affine(one, one, zero, tx, ty)
    )


def _general(x: torch.Tensor, p: float) -> torch.Tensor:
    """Isotropic scale, rotation, anisotropic scale, rotation, fractional shift: (B, 3, 3).

    Each rotation comes with probability 1 - sqrt(1 - p), so that some rotation happens with probability p.
    """
    b, _, h, w = x.shape
    one, zero = torch.ones(b, device=x.device), torch.zeros(b, device=x.device)
    p_rot = 1 - max(1 - p, 0.0) ** 0.5
    scale = _lognormal(x, p, SCALE_STD)
    aniso = _lognormal(x, p, SCALE_STD)
    turns = [_chosen(x, p_rot) * (torch.rand(b, device=x.device) * 2 - 1) * torch.pi for _ in range(2)]
    shift = _chosen(x, p).unsqueeze(1) * torch.randn(b, 2, device=x.device) * SHIFT  # (B, 2) of the side
    return (
        _affine(scale, scale, zero, zero, zero)
        @ _affine(one, one, turns[0], zero, zero)
        @ _affine(aniso, 1 / aniso, zero, zero, zero)
        @ _affine(one, one, turns[1], zero, zero)
        @ _affine(one, one, zero, shift[:, 0] * w, shift[:, 1] * h)
    )


def _resample(x: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` (B, C, H, W) read at ``where`` (B, 3, 3) of its output pixels (centred pixel units)."""
    _, _, h, w = x.shape
    to_pixels = torch.diag(torch.tensor([w / 2, h / 2, 1.0], device=x.device))  # affine_grid's [-1, 1] -> pixels
    theta = torch.linalg.inv(to_pixels) @ where @ to_pixels  # (B, 3, 3) in affine_grid's coordinates
    grid = F.affine_grid(theta[:, :2].to(x.dtype), list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _colour(x: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(A (B, 3, 3), t (B, 3)): RGB -> A @ RGB + t for brightness, contrast, luma flip, hue, saturation in turn."""
    b, dev = x.shape[0], x.device
    eye = torch.eye(3, device=dev).expand(b, 3, 3)
    luma = torch.full((3, 1), 3**-0.5, device=dev)  # the grey axis, unit length
    along = luma @ luma.T  # (3, 3): projection onto it
    brightness = torch.randn(b, device=dev) * BRIGHTNESS_STD * _chosen(x, p)
    a, t = eye, brightness.view(b, 1).expand(b, 3)
    steps = [_lognormal(x, p, CONTRAST_STD).view(b, 1, 1) * eye]
    flip = _chosen(x, p) * torch.randint(0, 2, (b,), device=dev)  # mirror through the plane across the grey axis
    steps.append(eye - 2 * flip.view(b, 1, 1) * along)
    angle = (_chosen(x, p) * (torch.rand(b, device=dev) * 2 - 1) * torch.pi).view(b, 1, 1)  # hue: about the axis
    cross = torch.tensor([[0.0, -1, 1], [1, 0, -1], [-1, 1, 0]], device=dev) * 3**-0.5  # [luma]_x
    steps.append(angle.cos() * eye + angle.sin() * cross + (1 - angle.cos()) * along)
    saturation = _lognormal(x, p, SATURATION_STD).view(b, 1, 1)
    steps.append(along + (eye - along) * saturation)
    for step in steps:
        a, t = step @ a, (step @ t.unsqueeze(2)).squeeze(2)
    return a, t


def _recolour(x: torch.Tensor, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) through RGB -> A @ RGB + t; a grey image (C = 1) is the grey pixel (g, g, g) mapped and read
    back as its channels' mean: brightness and contrast act, the luma flip negates, hue and saturation leave it."""
    b, c, h, w = x.shape
    if c == 3:
        return (a.to(x.dtype) @ x.reshape(b, 3, h * w) + t.to(x.dtype).unsqueeze(2)).reshape(b, c, h, w)
    if c == 1:
        gain, offset = a.sum(dim=2).mean(dim=1), t.mean(dim=1)  # (B,), (B,)
        return x * gain.to(x.dtype).view(b, 1, 1, 1) + offset.to(x.dtype).view(b, 1, 1, 1)
    raise ValueError(f"ADA's colour ops take 1 (grey) or 3 (RGB) channels, got {c}: use ada_ops without 'c'")
