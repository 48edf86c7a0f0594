"""GanModel: a variant's networks with its config, ready to sample, translate, save or train."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .config import config_to_dict
from .registry import Variant, did_you_mean
from .tasks import Task, task_for


class GanModel:
    """All networks of one GAN (a generator and a discriminator, say) and its config; ``task`` says what it does."""

    def __init__(self, variant: Variant, config: Any, nets: dict[str, nn.Module], classes: list[str] | None = None):
        self.variant = variant
        self.config = config
        self.nets = nn.ModuleDict(nets)
        self.classes = list(classes) if classes else None  # names of a conditional model's labels 0..K-1

    @property
    def task(self) -> Task:
        """What this model does (samples, points, translation; conditional or not): see ganzoo.tasks."""
        return task_for(self.variant, self.config, self.classes)

    @property
    def num_classes(self) -> int:
        """How many classes a conditional generator draws from; 0 for an unconditional one."""
        return self.task.num_classes

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {sum(p.numel() for p in m.parameters()):,}" for k, m in self.nets.items())
        return f"GanModel({self.variant.name!r}, {sizes})"

    @property
    def device(self) -> torch.device:
        return next(self.nets.parameters()).device

    def to(self, device: str | torch.device) -> GanModel:
        self.nets.to(device)
        return self

    def config_dict(self) -> dict[str, Any]:
        return config_to_dict(self.config)

    @classmethod
    def from_pretrained(
        cls, name_or_path: Any, *, revision: str | None = None, device: str | torch.device | None = None
    ) -> GanModel:
        """The model ``save_pretrained`` wrote, by catalog name, "hf-hub:org/repo", folder or run: ``ganzoo.load``."""
        from .pretrained.names import load

        return load(name_or_path, revision=revision, device=device)

    def save_pretrained(self, folder: Any, **options: Any) -> Any:
        """Write config.json, model.safetensors, README.md and samples.png (see ganzoo.pretrained.folder)."""
        from .pretrained.folder import save_pretrained

        return save_pretrained(self, folder, **options)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        private: bool = False,
        token: str | None = None,
        **options: Any,
    ) -> str:
        """Upload this model to a Hugging Face Hub repo as one commit; returns the commit sha."""
        from .pretrained.publish import push_to_hub

        return push_to_hub(self, repo_id, revision=revision, private=private, token=token, **options)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        truncation: float | None = None,
        batch_size: int = 512,
    ) -> torch.Tensor:
        """``n`` generated samples: (n, C, H, W) images in [-1, 1], or (n, D) points.

        The same seed gives the same samples: noise is drawn on the CPU from its own generator,
        and the generator runs in eval mode so a sample never depends on its batch-mates.
        A conditional model takes ``labels``: one class for all (an index or a class name), or n
        of them; without labels the classes are drawn uniformly from the same seeded generator.
        ``truncation`` in (0, 1] trades variety for typical samples: towards the mean w for a
        style-based generator, a normal truncated to [-t, t] for the others (ganzoo.latent).
        """
        from .latent import check_truncation, draw_z, has_w_space

        if not self.task.samples:
            raise TypeError(f"variant {self.variant.name!r} translates between domains: use model.translate(x)")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        G = self.nets["G"]
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        check_truncation(truncation)
        w_space = has_w_space(G)
        own = getattr(G, "truncated_latent", None) if truncation is not None else None  # a generator's own prior
        z = own(n, rng, truncation) if own else draw_z(n, tuple(G.latent_shape), rng, None if w_space else truncation)
        y = self._labels(n, labels, rng)  # (n,) or None
        takes = w_space or getattr(G, "takes_truncation", False)  # BigGAN: batch-norm statistics per truncation
        extra = {"truncation": truncation} if takes and truncation is not None else {}
        was_training = G.training
        G.eval()
        try:
            if y is None:
                out = [G(chunk.to(self.device), **extra) for chunk in z.split(batch_size)]
            else:
                out = [
                    G(zc.to(self.device), yc.to(self.device), **extra)
                    for zc, yc in zip(z.split(batch_size), y.split(batch_size))
                ]
        finally:
            G.train(was_training)
        out = torch.cat(out).float()
        return out.clamp_(-1, 1) if out.dim() == 4 else out  # images are in [-1, 1]; points are not

    def _labels(self, n: int, labels: Any, rng: torch.Generator | None) -> torch.Tensor | None:
        """The (n,) int64 class labels to generate, checked against the model's classes."""
        task = self.task
        k = task.num_classes
        if not task.conditional:
            if labels is not None:
                raise ValueError(f"this {self.variant.name} model is unconditional: it takes no labels")
            return None
        if labels is None:
            return torch.randint(0, k, (n,), generator=rng)
        if isinstance(labels, torch.Tensor):
            labels = labels.tolist() if labels.dim() else labels.item()
        if isinstance(labels, (str, int, np.integer)) and not isinstance(labels, bool):
            labels = [labels] * n
        try:
            y = torch.as_tensor([self.class_index(v) for v in list(labels)], dtype=torch.int64)
        except TypeError:
            known = (
                f" (classes: {', '.join(self.classes[:12])}{', ...' if len(self.classes) > 12 else ''})"
                if self.classes
                else ""
            )
            raise ValueError(f"labels must be class indices 0..{k - 1} or class names{known}, got {labels!r}") from None
        if y.shape != (n,):
            raise ValueError(f"give one label for all samples or exactly n={n} labels, got {y.shape[0]}")
        if bool(((y < 0) | (y >= k)).any()):
            raise ValueError(f"labels must be in 0..{k - 1} for this {k}-class model, got {y.tolist()[:8]}")
        return y

    def class_index(self, label: Any) -> int:
        """The index of one class label: an integer, or a class name matched case-insensitively ("did you mean" on a
        miss); a float, bool or anything else is refused rather than rounded."""
        if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
            return int(label)
        if not isinstance(label, str):
            raise TypeError(label)
        exact = {name: i for i, name in enumerate(self.classes or [])}
        if label.strip() in exact:  # "Cardigan" (a dog) and "cardigan" (a sweater) are two ImageNet classes
            return exact[label.strip()]
        names = {}
        for i, name in enumerate(self.classes or []):
            names.setdefault(name.lower(), i)
        if label.strip().lower() in names:
            return names[label.strip().lower()]
        if label.strip().lstrip("-").isdigit():
            return int(label)
        if not self.classes:
            raise ValueError(
                f"labels must be class indices 0..{self.task.num_classes - 1} or class names (this "
                f"{self.variant.name} model's classes have no names), got {label!r}"
            )
        shown = ", ".join(self.classes[:12]) + (", ..." if len(self.classes) > 12 else "")
        raise ValueError(
            f"labels must be class indices 0..{len(self.classes) - 1} or class names (classes: {shown}): "
            f"no class named {label!r}{did_you_mean(label, self.classes)}"
        )

    @torch.no_grad()
    def walk(self, rows: int, steps: int, *, seed: int | None = None, truncation: float | None = None) -> torch.Tensor:
        """``rows`` latent walks of ``steps`` images each, (rows * steps, C, H, W) row by row: linear in W for
        a style-based generator, spherical in z otherwise; a conditional model keeps one class per row."""
        from .latent import check_truncation, walk

        check_truncation(truncation)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        labels = self._labels(rows, None, rng) if self.task.conditional else None
        return self._eval_G(lambda G: walk(G, rows, steps, rng, self.device, truncation, labels))

    @torch.no_grad()
    def style_mix(
        self,
        rows: int,
        cols: int,
        *,
        seed: int | None = None,
        cutoff: int | None = None,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """A style-based model's style-mixing table, (rows + 1) * (cols + 1) images (see ganzoo.latent.style_mix)."""
        from .latent import check_truncation, style_mix

        check_truncation(truncation)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        return self._eval_G(lambda G: style_mix(G, rows, cols, rng, self.device, cutoff, truncation))

    def _eval_G(self, draw: Any) -> torch.Tensor:
        """``draw(G)`` with the generator in eval mode (restored after), as floats; images clamped to [-1, 1]."""
        if not self.task.samples:
            raise TypeError(f"variant {self.variant.name!r} translates between domains: it has no latent space")
        G = self.nets["G"]
        was_training = G.training
        G.eval()
        try:
            out = draw(G).float()
        finally:
            G.train(was_training)
        return out.clamp_(-1, 1) if out.dim() == 4 else out

    @torch.no_grad()
    def class_grid(self, per_class: int = 8, *, seed: int | None = None) -> torch.Tensor:
        """A conditional model's samples, ``per_class`` of each class in order: (K * per_class, C, H, W),
        to show as K rows (``save_grid(x, path, nrow=per_class)``)."""
        task = self.task
        if not task.conditional:
            raise ValueError(f"this {self.variant.name} model is unconditional: it has no classes to put in rows")
        labels = torch.arange(task.num_classes).repeat_interleave(per_class).tolist()
        return self.sample(len(labels), seed=seed, labels=labels)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "a2b", *, batch_size: int = 64) -> torch.Tensor:
        """Map images (B, C, H, W) in [-1, 1] from domain A to B ("a2b") or back ("b2a")."""
        task = self.task
        if not task.translates:
            raise TypeError(f"variant {self.variant.name!r} generates from noise: use model.sample(n)")
        name = task.generator(self.nets, direction, self.variant.name)  # a clear error for a direction it lacks
        if x.dim() == 3:
            x = x.unsqueeze(0)
        G = self.nets[name]
        was_training = G.training
        G.eval()
        try:
            out = [G(chunk.to(self.device)) for chunk in x.split(batch_size)]
        finally:
            G.train(was_training)
        return torch.cat(out).float()
