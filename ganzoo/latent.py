"""Latent-space tools shared by every noise-driven generator: truncation, walks, style mixing.

A generator whose class sets ``truncation_space = "w"`` (StyleGAN2) has a style space W: it takes
``G(z, truncation=psi)``, maps with ``G.mapping(z)`` to (B, num_ws, w_dim) and draws with
``G.render(ws)``. Truncation and walks then happen in W; every other generator is handled in z.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import nn


def has_w_space(G: nn.Module) -> bool:
    """True for a style-based generator (``truncation_space = "w"``): truncation and walks happen in W."""
    return getattr(G, "truncation_space", "z") == "w"


def check_truncation(truncation: float | None) -> None:
    if truncation is None:
        return
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0 < truncation <= 1:
        raise ValueError(
            f"truncation must be a number in (0, 1] (e.g. 0.7; smaller = closer to typical samples), got {truncation!r}"
        )


def draw_z(
    n: int, shape: tuple[int, ...], rng: torch.Generator | None, truncation: float | None = None
) -> torch.Tensor:
    """(n, *shape) latents ~ N(0, 1), or truncated to [-t, t].

    The truncated normal is drawn by inverse CDF, repeatable by rng.
    """
    if truncation is None:
        return torch.randn((n, *shape), generator=rng)
    u = torch.rand((n, *shape), generator=rng, dtype=torch.float64)
    lo = 0.5 * (1 + math.erf(-truncation / math.sqrt(2)))  # Phi(-t)
    z = math.sqrt(2) * torch.erfinv(2 * (lo + u * (1 - 2 * lo)) - 1)  # Phi^-1 of u spread over [Phi(-t), Phi(t)]
    return z.clamp(-truncation, truncation).float()


def z_batches(
    n: int, shape: tuple[int, ...], rng: torch.Generator, truncation: float | None, batch_size: int
) -> Iterator[torch.Tensor]:
    """``draw_z(n, shape, rng, truncation).split(batch_size)``, drawn a few batches at a time: the same numbers.

    CPU normals are made 16 at a time, and a draw whose size is not a multiple of 16 redraws its last 16;
    so draws of a multiple of 16 numbers each, the last one at least 16, continue one draw exactly.
    (Uniforms, behind the truncated normal, are drawn one by one: any split continues them.)
    """
    size = math.prod(shape)
    rows = math.lcm(batch_size, 16 // math.gcd(size, 16))  # a whole number of batches, a multiple of 16 numbers
    starts = list(range(0, n, rows))
    if len(starts) > 1 and (n - starts[-1]) * size < 16:  # a last draw under 16 numbers would take another path
        starts.pop()
    for start, stop in zip(starts, [*starts[1:], n]):
        yield from draw_z(stop - start, shape, rng, truncation).split(batch_size)  # (b, *shape) each


def in_batches(f: Callable[..., torch.Tensor], x: torch.Tensor, batch_size: int, *rest: torch.Tensor) -> torch.Tensor:
    """``f(x, *rest)`` computed ``batch_size`` rows at a time (rows of ``rest`` go along), concatenated."""
    if x.shape[0] <= batch_size:
        return f(x, *rest)
    parts = zip(x.split(batch_size), *(r.split(batch_size) for r in rest))
    return torch.cat([f(*part) for part in parts])


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of Gaussian latents a, b (R, *shape) at fractions t (K,): (R, K, *shape).

    Gaussian latents lie near a sphere; a straight line between two of them passes through
    atypically short vectors, the arc does not.
    """
    fa, fb = a.flatten(1), b.flatten(1)  # (R, D)
    cos = (fa * fb).sum(1) / (fa.norm(dim=1) * fb.norm(dim=1)).clamp_min(1e-12)
    omega = cos.clamp(-1 + 1e-7, 1 - 1e-7).acos()[:, None]  # (R, 1)
    t = t[None]  # (1, K)
    wa, wb = torch.sin((1 - t) * omega) / torch.sin(omega), torch.sin(t * omega) / torch.sin(omega)  # (R, K)
    out = wa[..., None] * fa[:, None] + wb[..., None] * fb[:, None]  # (R, K, D)
    return out.reshape(a.shape[0], t.shape[1], *a.shape[1:])


def walk(
    G: nn.Module,
    rows: int,
    steps: int,
    rng: torch.Generator,
    device: torch.device,
    truncation: float | None = None,
    labels: torch.Tensor | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """``rows`` walks of ``steps`` images between two random latents each: (rows * steps, C, H, W), row by row.

    Linear in W for a style-based generator, spherical in z for the others; ``labels`` (rows,) keep
    a conditional generator's class fixed along each row.
    """
    shape = tuple(G.latent_shape)
    w_space = has_w_space(G)
    ends = draw_z(2 * rows, shape, rng, None if w_space else truncation).to(device)  # (2R, *shape)
    t = torch.linspace(0, 1, steps, device=device)  # (K,)
    if w_space:
        classes = {} if labels is None else {"y": labels.to(device).repeat(2)}  # both ends of a row: its class
        ws = G.mapping(ends, truncation if truncation is not None else 1.0, **classes)  # (2R, L, w_dim)
        a, b = ws[:rows], ws[rows:]
        path = a[:, None] + t[None, :, None, None] * (b - a)[:, None]  # (R, K, L, w_dim)
        return in_batches(G.render, path.flatten(0, 1), batch_size)
    z = slerp(ends[:rows], ends[rows:], t).flatten(0, 1)  # (R * K, *shape)
    if labels is None:
        return in_batches(G, z, batch_size)
    return in_batches(G, z, batch_size, labels.to(device).repeat_interleave(steps))


def style_mix(
    G: nn.Module,
    rows: int,
    cols: int,
    rng: torch.Generator,
    device: torch.device,
    cutoff: int | None = None,
    truncation: float | None = None,
    batch_size: int = 512,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """A style-mixing table, (rows + 1) x (cols + 1) images, row by row: the top row holds ``cols`` source
    images, the left column ``rows`` destinations, and each cell the destination with the source's
    styles for the first ``cutoff`` (coarse) layers (default half of them). A conditional generator takes
    ``labels`` (cols + rows,): each source's and destination's class, mapped into its styles."""
    if not has_w_space(G):
        raise ValueError("style mixing needs a style-based generator (one with a W space, e.g. stylegan2)")
    classes = {} if labels is None else {"y": labels.to(device)}
    ws = G.mapping(
        draw_z(cols + rows, tuple(G.latent_shape), rng).to(device),
        truncation if truncation is not None else 1.0,
        **classes,
    )  # (cols + rows, L, w_dim)
    num_ws = ws.shape[1]
    cutoff = num_ws // 2 if cutoff is None else cutoff
    if not 0 < cutoff <= num_ws:
        raise ValueError(f"cutoff must be in 1..{num_ws} (the generator has {num_ws} style inputs), got {cutoff}")
    src, dst = ws[:cols], ws[cols:]
    images = in_batches(G.render, ws, batch_size)  # (cols + rows, C, H, W)
    mixed = torch.cat(
        [src[None, :, :cutoff].expand(rows, -1, -1, -1), dst[:, None, cutoff:].expand(-1, cols, -1, -1)], dim=2
    )  # (R, Cols, L, w_dim)
    cells = in_batches(G.render, mixed.flatten(0, 1), batch_size).view(rows, cols, *images.shape[1:])
    blank = torch.full_like(images[:1], -1.0)  # the top-left corner: black
    top = torch.cat([blank, images[:cols]])  # (cols + 1, C, H, W)
    body = torch.cat([images[cols:, None], cells], dim=1).flatten(0, 1)  # (rows * (cols + 1), C, H, W)
    return torch.cat([top, body])


def save_walk_gif(images: torch.Tensor, rows: int, steps: int, path, *, frame_ms: int = 80) -> None:
    """An animated GIF of walks (rows * steps, C, H, W) in [-1, 1]: frame k shows every row's k-th image,
    and the animation runs there and back so it loops without a jump."""
    from PIL import Image
    from torchvision.utils import make_grid

    per_row = max(1, int(math.sqrt(rows)))
    walks = images.view(rows, steps, *images.shape[1:])
    frames = []
    for k in list(range(steps)) + list(range(steps - 2, 0, -1)):
        grid = make_grid(walks[:, k].float().add(1).div(2).clamp(0, 1), nrow=per_row, padding=2)  # (3, H', W')
        frames.append(Image.fromarray(grid.mul(255).round().byte().permute(1, 2, 0).numpy()))
    frames[0].save(str(path), save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
