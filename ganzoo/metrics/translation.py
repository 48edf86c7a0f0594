"""Content kept by translation: scores of a translation model on an mnist-5k task with a known true target.

Every task of ganzoo.data.mnist_tasks (inverted, thick, rot90) maps a digit x to its true target
T(x). On the 500 held-out digits, which no task spec trains on, ``translation_scores`` reports:

- a2b_label_kept: the share of translations G_AB(x) that the bundled digit judge, reading
  ``task.upright(G_AB(x))``, assigns to x's label (argmax over the ten digits and "not a digit");
- true_target_label_kept: the same rule applied to the true targets T(x), the number a perfect
  translator would get, so that a2b_label_kept has its reference;
- a2b_mae: mean |G_AB(x) - T(x)| in [0, 1] pixel units; identity_mae: the same for x itself
  (a model that changes nothing), the baseline a2b_mae has to beat;
- for a model that also translates back (G_BA): b2a_mae (|G_BA(T(x)) - x|), b2a_label_kept (the
  judge's label of G_BA(T(x))), source_label_kept (the judge on x itself, b2a's reference) and
  cycle_mae (|G_BA(G_AB(x)) - x|).

``translation_metric`` is the same as a registered metric for ``ganzoo eval`` and ``ganzoo bench``,
taking the task from the data spec (mnist-5k-thick, mnist-5k-thick-paired, ...).
"""

from __future__ import annotations

from typing import Any

import torch

from . import TRANSLATION_PROTOCOL as HOLDOUT_PROTOCOL

__all__ = ["translation_scores", "translation_metric", "task_of_spec", "HOLDOUT_PROTOCOL"]

SPEC_PREFIX = "mnist-5k-"


def task_of_spec(data: str) -> str:
    """The mnist-5k task a name or data spec stands for: "thick", "mnist-5k-thick" and "mnist-5k-thick-paired"
    all give "thick"; anything else is refused, naming the specs that have a true target."""
    from ..data.mnist_tasks import TASKS

    name = data[len(SPEC_PREFIX) :] if data.startswith(SPEC_PREFIX) else data
    name = name[: -len("-paired")] if name.endswith("-paired") else name
    if name not in TASKS:
        raise ValueError(
            f"{data!r} is no mnist-5k translation task with a known true target; the content metric "
            f"scores models on the tasks {', '.join(sorted(TASKS))} (data specs such as "
            f"{SPEC_PREFIX}thick and {SPEC_PREFIX}thick-paired)"
        )
    return name


def _judge(images: torch.Tensor) -> torch.Tensor:
    """The bundled digit judge's top class (N,) of images (N, C, H, W) in [-1, 1]: 0-9, or 10 for "not a digit"."""
    from .classifier import load_mnist_classifier

    net = load_mnist_classifier()
    with torch.no_grad():
        return torch.cat([net(chunk).argmax(1) for chunk in images.detach().float().cpu().split(500)])


def _mae(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean absolute difference of images in [-1, 1], in [0, 1] pixel units."""
    return float((x.float().cpu() - y.float().cpu()).abs().mean() / 2)


def _kept(images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((_judge(images) == labels).double().mean())


@torch.no_grad()
def translation_scores(model: Any, task: str, *, batch_size: int = 64) -> dict[str, Any]:
    """The scores above for ``model`` (a translation GanModel) on ``task`` ("thick", or a spec such as
    "mnist-5k-thick-paired"), at the model's image size and channels; rounded to 4 decimals."""
    from ..data.mnist_tasks import get_task, holdout_pairs

    if not model.task.translates:
        raise TypeError(f"the content metric scores translation models; {model.variant.name!r} samples from noise")
    name = task_of_spec(task)
    t = get_task(name)
    size, channels = getattr(model.config, "image_size", 32), getattr(model.config, "channels", 1)
    a, b, labels = holdout_pairs(name, image_size=size, channels=channels)  # (500, C, S, S) x2, (500,)
    fake_b = model.translate(a, "a2b", batch_size=batch_size).cpu()  # (500, C, S, S)
    scores: dict[str, Any] = {
        "a2b_label_kept": _kept(t.upright(fake_b), labels),
        "true_target_label_kept": _kept(t.upright(b), labels),
        "a2b_mae": _mae(fake_b, b),
        "identity_mae": _mae(a, b),
    }
    if "b2a" in model.task.directions(model.nets):  # it translates back too
        fake_a = model.translate(b, "b2a", batch_size=batch_size).cpu()
        scores.update(
            b2a_label_kept=_kept(fake_a, labels),
            source_label_kept=_kept(a, labels),
            b2a_mae=_mae(fake_a, a),
            cycle_mae=_mae(model.translate(fake_b, "b2a", batch_size=batch_size), a),
        )
    scores = {k: round(v, 4) for k, v in scores.items()}
    return {**scores, "task": name, "holdout_images": int(a.shape[0])}


def translation_metric(model: Any, data: str, *, seed: int = 0) -> dict[str, Any]:
    """The registered metric "translation": ``translation_scores`` on the task of data spec ``data``
    (deterministic: ``seed`` is accepted for the common signature and not used)."""
    scores = translation_scores(model, data)
    return {k: v for k, v in scores.items() if k != "task"}
