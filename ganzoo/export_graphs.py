"""What ``ganzoo export`` traces: a model's generator wrapped with the inputs its task says it takes.

A sampler takes ``z`` (batch, latent size), and ``labels`` (batch,) int64 when conditional; a
style-based one (``truncation_space = "w"``, see ganzoo.latent) takes a scalar ``truncation`` psi
instead, applied inside the graph. A translator takes ``image``. Images come out clamped to [-1, 1],
as ``model.sample`` clamps them. The wrapped networks are float32 CPU copies in eval mode.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
from torch import nn

from .latent import draw_z, has_w_space
from .model import GanModel


class ExportError(RuntimeError):
    """A generator that cannot be exported, or a request that does not fit the model; the message says why."""


class _Sampler(nn.Module):
    """z (B, D) [and labels (B,)] -> the generator's output; images clamped to [-1, 1] as model.sample does."""

    def __init__(self, G: nn.Module, conditional: bool, clamp: bool, truncation: float | None = None):
        super().__init__()
        self.G, self.conditional, self.clamp = G, conditional, clamp
        self.latent_shape = tuple(G.latent_shape)
        self.extra = {} if truncation is None else {"truncation": truncation}  # fixed when traced

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = z.reshape(z.shape[0], *self.latent_shape)  # (B, *latent_shape)
        out = self.G(z, labels, **self.extra) if self.conditional else self.G(z, **self.extra)
        return out.clamp(-1, 1) if self.clamp else out


class _StyleSampler(nn.Module):
    """z (B, D), psi () -> images (B, C, H, W): truncation in W inside the graph, w = w_avg + psi (w - w_avg).

    The mapping's truncation is a lerp from the mean w, so mapping(z, 0) is w_avg and mapping(z, 1) the
    untruncated w; any psi is their blend. This needs only the W-space contract (``mapping``, ``render``);
    a conditional generator's mapping takes the labels as ``y`` (see ganzoo.latent.walk).
    """

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return self._render(z, truncation, {})

    def _render(self, z: torch.Tensor, truncation: torch.Tensor, classes: dict) -> torch.Tensor:
        w_avg, w = self.G.mapping(z, 0.0, **classes), self.G.mapping(z, 1.0, **classes)  # (B, num_ws, w_dim) each
        return self.G.render(w_avg + truncation * (w - w_avg)).clamp(-1, 1)  # (B, C, H, W)


class _ConditionalStyleSampler(_StyleSampler):
    """z (B, D), labels (B,), psi () -> images (B, C, H, W): the same, each latent mapped with its class."""

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return self._render(z, truncation, {"y": labels})


class _Translator(nn.Module):
    """image (B, C, H, W) -> translated images (B, C, H, W) in [-1, 1]."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.G(image).clamp(-1, 1)


def graph_for(
    model: GanModel, direction: str | None = None, truncation: float | None = None
) -> tuple[nn.Module, dict[str, torch.Tensor], str]:
    """The module to export (a float32 CPU copy in eval mode), example inputs by name, and the output's name.

    ``truncation`` is fixed into the graph of a generator whose layers take it (``takes_truncation``:
    BigGAN's batch-norm statistics recorded per truncation), as ``model.sample(truncation=t)`` passes it.
    """
    task, who = model.task, model.variant.name
    if task.translates:
        name = task.generator(model.nets, direction or "a2b", who)  # a clear error for a direction it lacks
        G = _cpu_copy(model.nets[name])
        size, channels = getattr(model.config, "image_size", None), getattr(model.config, "channels", None)
        if not (isinstance(size, int) and isinstance(channels, int)):
            raise ExportError(
                f"cannot export this {who} translator: its config has no image_size and channels, "
                f"so the image input's shape is unknown"
            )
        return _Translator(G).eval(), {"image": torch.zeros(2, channels, size, size)}, "images"
    if not task.samples:
        raise ExportError(
            f"cannot export {who}: its task {type(task).__name__} neither samples from noise nor "
            f"translates images, and ganzoo export knows only those two graphs"
        )
    if direction is not None:
        raise ExportError(f"{who} generates from noise: --direction is only for translators")
    G = _cpu_copy(model.nets["G"])
    _check_fixed_truncation(G, truncation, who)
    latent = math.prod(G.latent_shape)
    z = draw_z(2, tuple(G.latent_shape), torch.Generator().manual_seed(0)).reshape(2, latent)  # (2, D)
    if has_w_space(G):
        if task.conditional:
            if "y" not in inspect.signature(G.mapping.forward).parameters:
                raise ExportError(
                    f"cannot export this {who} model: it is class-conditional, but its mapping network takes no "
                    f"labels; the W-space contract of a conditional generator is mapping(z, psi, y=labels)"
                )
            inputs = {"z": z, "labels": torch.zeros(2, dtype=torch.int64), "truncation": torch.tensor(1.0)}
            return _ConditionalStyleSampler(G).eval(), inputs, "images"
        return _StyleSampler(G).eval(), {"z": z, "truncation": torch.tensor(1.0)}, "images"
    inputs = {"z": z, "labels": torch.zeros(2, dtype=torch.int64)} if task.conditional else {"z": z}
    with torch.no_grad():
        probe = _Sampler(G, task.conditional, False, truncation)(*inputs.values())
    images = probe.dim() == 4  # images are clamped to [-1, 1]; points are not
    return _Sampler(G, task.conditional, images, truncation).eval(), inputs, "images" if images else "points"


def _check_fixed_truncation(G: nn.Module, truncation: float | None, who: str) -> None:
    """A fixed truncation is for generators whose layers take one; for the others it only shapes z."""
    if truncation is None:
        return
    if has_w_space(G):
        raise ExportError(
            f"{who} truncates in W inside the graph: its file takes `truncation` as an input; "
            f"export it without a fixed truncation"
        )
    if not getattr(G, "takes_truncation", False):
        raise ExportError(
            f"for this {who} generator truncation only shapes the latents (draw z from a normal "
            f"truncated to [-t, t]); its graph is the same for every t: export it without one"
        )
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0 < truncation <= 1:
        raise ExportError(f"truncation must be a number in (0, 1], got {truncation!r}")


def _cpu_copy(net: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode: exporting never moves or changes the user's model."""
    return copy.deepcopy(net).float().cpu().eval()
