"""The labels of an evaluation: which class each sample asked for, and the reference images' classes in the
model's numbering, handed to the metrics that take them (``labels``, ``sample_labels``, ``reference_labels``)."""

from __future__ import annotations

from typing import Any

import torch

from .metrics.calling import takes

__all__ = ["label_arguments", "reference_classes", "requested_digits"]


def label_arguments(compute: Any, drawn: Any, class_info: torch.Tensor | None) -> dict[str, Any]:
    """The label keywords a metric takes: the digits asked for, each sample's class, the reference's classes."""
    extra: dict[str, Any] = {}
    if drawn.digits is not None and takes(compute, "labels"):
        extra["labels"] = drawn.digits
    if drawn.labels is not None and takes(compute, "sample_labels"):
        extra["sample_labels"] = torch.tensor(drawn.labels)
    if class_info is not None and takes(compute, "reference_labels"):
        extra["reference_labels"] = class_info
    return extra


def reference_classes(dataset: Any, limit: int, seed: int, model: Any) -> torch.Tensor | None:
    """The reference images' labels in the model's class numbering (by class name when both have names)."""
    from .metrics.builtin import reference_labels

    found = reference_labels(dataset, limit=limit, seed=seed)
    if found is None or model is None:
        return None
    labels, names = found
    if names and model.classes and list(names) != list(model.classes):
        index = {name: i for i, name in enumerate(model.classes)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(
                f"the reference data's class {missing[0]!r} is not one of the model's classes {model.classes}"
            )
        labels = torch.tensor([index[names[i]] for i in labels.tolist()])
    return labels


def requested_digits(model: Any, labels: list[int] | None) -> torch.Tensor | None:
    """The digit each sample was asked for, when a conditional model's classes are the digits 0-9 (a digit
    judge can then check it drew that digit); None otherwise."""
    names = model.classes or []
    if labels is None or sorted(names) != [str(d) for d in range(10)]:
        return None
    return torch.tensor([int(names[i]) for i in labels])
