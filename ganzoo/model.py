"""GanModel: a variant's networks with its config, ready to sample, translate, save or train."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .config import config_to_dict
from .registry import Variant


class GanModel:
    """All networks of one GAN (e.g. {"G", "D"} or {"G_AB", "G_BA", "D_A", "D_B"}) and its config."""

    def __init__(self, variant: Variant, config: Any, nets: dict[str, nn.Module]):
        self.variant = variant
        self.config = config
        self.nets = nn.ModuleDict(nets)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {sum(p.numel() for p in m.parameters()):,}" for k, m in self.nets.items())
        return f"GanModel({self.variant.name!r}, {sizes})"

    @property
    def device(self) -> torch.device:
        return next(self.nets.parameters()).device

    def to(self, device: str | torch.device) -> "GanModel":
        self.nets.to(device)
        return self

    def config_dict(self) -> dict[str, Any]:
        return config_to_dict(self.config)

    def save_pretrained(self, folder, **options: Any):
        """Write config.json, model.safetensors, README.md and samples.png (see ganzoo.hub)."""
        from .hub import save_pretrained

        return save_pretrained(self, folder, **options)

    def push_to_hub(self, repo_id: str, *, revision: str | None = None, private: bool = False,
                    token: str | None = None, **options: Any) -> str:
        """Upload this model to a Hugging Face Hub repo as one commit; returns the commit sha."""
        from .hub import push_to_hub

        return push_to_hub(self, repo_id, revision=revision, private=private, token=token, **options)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, batch_size: int = 512) -> torch.Tensor:
        """``n`` generated samples: (n, C, H, W) images in [-1, 1], or (n, D) points.

        The same seed gives the same samples: noise is drawn on the CPU from its own generator,
        and the generator runs in eval mode so a sample never depends on its batch-mates.
        """
        if self.variant.task != "sample":
            raise TypeError(f"variant {self.variant.name!r} translates between domains: use model.translate(x)")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        G = self.nets["G"]
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn((n, *G.latent_shape), generator=rng)  # (n, *latent_shape)
        was_training = G.training
        G.eval()
        try:
            out = [G(chunk.to(self.device)) for chunk in z.split(batch_size)]
        finally:
            G.train(was_training)
        out = torch.cat(out).float()
        return out.clamp_(-1, 1) if out.dim() == 4 else out  # images are in [-1, 1]; points are not

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "a2b", *, batch_size: int = 64) -> torch.Tensor:
        """Map images (B, C, H, W) in [-1, 1] from domain A to B ("a2b") or back ("b2a")."""
        if self.variant.task != "translate":
            raise TypeError(f"variant {self.variant.name!r} generates from noise: use model.sample(n)")
        nets = {"a2b": "G_AB", "b2a": "G_BA"}
        if direction not in nets:
            raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        if x.dim() == 3:
            x = x.unsqueeze(0)
        G = self.nets[nets[direction]]
        was_training = G.training
        G.eval()
        try:
            out = [G(chunk.to(self.device)) for chunk in x.split(batch_size)]
        finally:
            G.train(was_training)
        return torch.cat(out).float()
