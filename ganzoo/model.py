"""GanModel: a variant's networks with its config, ready to sample, translate, save or train."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
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
        A result larger than this machine's memory is refused before anything is drawn: use sample_batches.
        """
        n = check_count("n", n)
        batch_size = check_count("batch_size", batch_size)
        if n > batch_size:
            self._refuse_oversize(n, "samples", "draw them batch by batch with model.sample_batches(...)")
        batches = self.sample_batches(n, seed=seed, labels=labels, truncation=truncation, batch_size=batch_size)
        return torch.cat(list(batches))

    def sample_batches(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        truncation: float | None = None,
        batch_size: int = 512,
    ) -> Iterator[torch.Tensor]:
        """``model.sample(n, ...)`` one batch at a time, (b, C, H, W) or (b, D) each: the same samples in the same
        order, with one batch of noise and images in memory; arguments are checked before the first batch."""
        from .latent import check_truncation, has_w_space, z_batches

        if not self.task.samples:
            raise TypeError(f"variant {self.variant.name!r} translates between domains: use model.translate(x)")
        n = check_count("n", n)
        batch_size = check_count("batch_size", batch_size)
        check_truncation(truncation)
        G = self.nets["G"]
        rng = torch.Generator().manual_seed(seed) if seed is not None else torch.default_generator
        w_space = has_w_space(G)
        own = getattr(G, "truncated_latent", None) if truncation is not None else None  # a generator's own prior
        if own:  # one draw: a plugin's prior need not continue across draws
            zs = iter(own(n, rng, truncation).split(batch_size))
            y, end = self._labels(n, labels, rng), None
        else:
            shape, t = tuple(G.latent_shape), None if w_space else truncation
            end = None
            if labels is None and self.task.conditional:  # the labels come after all of z in the seeded stream
                end = torch.Generator()
                end.set_state(rng.get_state())
                for _ in z_batches(n, shape, end, t, batch_size):
                    pass
            y = self._labels(n, labels, end)  # (n,) or None
            zs = z_batches(n, shape, rng, t, batch_size)
        takes = w_space or getattr(G, "takes_truncation", False)  # BigGAN: batch-norm statistics per truncation
        extra = {"truncation": truncation} if takes and truncation is not None else {}
        ys = y.split(batch_size) if y is not None else None
        return self._generate(G, zs, ys, extra, rng, end)

    def _generate(self, G: nn.Module, zs: Any, ys: Any, extra: dict, rng: torch.Generator, end: Any) -> Iterator:
        """G on each batch of latents (and labels), in eval mode; the noise stream ends past the labels."""
        for i, z in enumerate(zs):
            inputs = (z.to(self.device),) if ys is None else (z.to(self.device), ys[i].to(self.device))
            with torch.no_grad():  # also when a caller iterates outside no_grad
                out = self._eval_G(lambda G: G(*inputs, **extra))  # noqa: B023 (called at once)
            yield out
        if end is not None:
            rng.set_state(end.get_state())

    def _refuse_oversize(self, count: int, what: str, fix: str) -> None:
        """Refuse ``count`` generated items that, with their noise, cannot fit in this machine's memory."""
        G = self.nets["G"]
        latent = math.prod(G.latent_shape)
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        need = count * latent * 4
        if not memory or need <= memory:  # else too big without looking at the output
            need += count * self.output_shape().numel() * 4
            if not memory or need <= memory:
                return
        raise ValueError(
            f"{count:,} {what} need over {need / 2**30:,.1f} GiB (noise and output), more than this "
            f"machine's {memory / 2**30:,.1f} GiB of memory: {fix}"
        )

    @torch.no_grad()
    def output_shape(self) -> torch.Size:
        """The shape of one generated sample, (C, H, W) or (D,), from one pass of a zero latent."""
        G = self.nets["G"]
        z = torch.zeros((1, *G.latent_shape), device=self.device)
        inputs = (z,) if not self.task.conditional else (z, torch.zeros(1, dtype=torch.int64, device=self.device))
        return self._eval_G(lambda G: G(*inputs)).shape[1:]

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
        try:
            if isinstance(labels, (str, int, np.integer)) and not isinstance(labels, bool):
                y = torch.full((n,), self.class_index(labels), dtype=torch.int64)  # one class for all
            else:
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
    def walk(
        self, rows: int, steps: int, *, seed: int | None = None, truncation: float | None = None, batch_size: int = 512
    ) -> torch.Tensor:
        """``rows`` latent walks of ``steps`` images each, (rows * steps, C, H, W) row by row: linear in W for
        a style-based generator, spherical in z otherwise; a conditional model keeps one class per row."""
        from .latent import check_truncation, walk

        rows = check_count("rows", rows)
        steps = check_count("steps", steps)
        batch_size = check_count("batch_size", batch_size)
        check_truncation(truncation)
        if not self.task.samples:
            raise TypeError(f"variant {self.variant.name!r} translates between domains: it has no latent space")
        if rows * steps > batch_size:
            self._refuse_oversize(rows * steps, "walk images", "ask for fewer rows or steps")
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        labels = self._labels(rows, None, rng) if self.task.conditional else None
        return self._eval_G(lambda G: walk(G, rows, steps, rng, self.device, truncation, labels, batch_size))

    @torch.no_grad()
    def style_mix(
        self,
        rows: int,
        cols: int,
        *,
        seed: int | None = None,
        cutoff: int | None = None,
        truncation: float | None = None,
        batch_size: int = 512,
    ) -> torch.Tensor:
        """A style-based model's style-mixing table, (rows + 1) * (cols + 1) images (see ganzoo.latent.style_mix)."""
        from .latent import check_truncation, style_mix

        rows = check_count("rows", rows)
        cols = check_count("cols", cols)
        batch_size = check_count("batch_size", batch_size)
        check_truncation(truncation)
        if not self.task.samples:
            raise TypeError(f"variant {self.variant.name!r} translates between domains: it has no latent space")
        if (rows + 1) * (cols + 1) > batch_size:
            self._refuse_oversize((rows + 1) * (cols + 1), "style-mixing images", "ask for fewer rows or columns")
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        labels = self._labels(cols + rows, None, rng) if self.task.conditional else None  # a class per latent
        return self._eval_G(
            lambda G: style_mix(G, rows, cols, rng, self.device, cutoff, truncation, batch_size, labels)
        )

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
        per_class = check_count("per_class", per_class)
        n = task.num_classes * per_class
        if n > 512:  # sample's batch: a single batch is always drawn
            self._refuse_oversize(n, "samples", "ask for fewer per class")
        return self.sample(n, seed=seed, labels=self.class_grid_labels(per_class))

    def class_grid_labels(self, per_class: int) -> torch.Tensor:
        """The labels of ``class_grid(per_class)``: (K * per_class,) int64, class by class."""
        return torch.arange(self.task.num_classes).repeat_interleave(per_class)

    @torch.no_grad()
    def translate(
        self, x: Any, direction: str = "a2b", *, batch_size: int = 64, size: str = "model"
    ) -> torch.Tensor | Any:
        """Map images from domain A to B ("a2b") or back ("b2a").

        A tensor (B, C, H, W) in [-1, 1] goes through the generator as it is. An image (a path or a PIL image,
        any size) is resized to the model's side and scaled to [-1, 1] as the CycleGAN/pix2pix authors' test
        pipeline does, and comes back as a PIL image at the model's side (``size="model"``, what their test.py
        writes) or at its own width and height (``size="original"``): see ganzoo.images.
        """
        task = self.task
        if not task.translates:
            raise TypeError(f"variant {self.variant.name!r} generates from noise: use model.sample(n)")
        name = task.generator(self.nets, direction, self.variant.name)  # a clear error for a direction it lacks
        if not isinstance(x, torch.Tensor):
            from .images import check_size, image_to_tensor, read_image, tensor_to_image

            check_size(size)
            image = read_image(x)
            tensor = image_to_tensor(image, self.config.channels, self.config.image_size)  # (1, C, S, S)
            out = self.translate(tensor, direction, batch_size=batch_size)
            return tensor_to_image(out.clamp(-1, 1), image.size if size == "original" else None)
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


def check_count(name: str, value: Any) -> int:
    """Refuse a count that is not a positive integer (a bool, a float, zero or less) with a ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
